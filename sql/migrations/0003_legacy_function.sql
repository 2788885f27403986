-- The legacy nightly posting function, fn_insert_sun_journal (SPEC section 3), with the exact
-- semantics of docs/posting-semantics.md: the same checks in the same order, the same reason
-- codes, the same amounts to the cent as the pipeline.
--
-- It is written the way the original was, and on purpose: an explicit cursor over the day's
-- rows, per-row look-ups, one INSERT per journal line, a GL update-or-insert per line. It is
-- the honest baseline the pipeline is measured against, so it is neither crippled (look-ups
-- use the existing indexes, variables carry the column types so that they do) nor optimized
-- beyond what a careful author of its age would have done.
--
-- A row it cannot post is skipped with a NOTICE "txn <id> skipped (<reason_code>): <detail>",
-- and that NOTICE is the only trace it leaves: the data is silently lost. The Python runner
-- (journal_pipeline/legacy/runner.py) counts those notices by reason code.

-- The exact value of a decimal string that already matched the numeric pattern of
-- docs/posting-semantics.md, or NULL when that value is not representable as numeric(38,18)
-- AND PostgreSQL's numeric input cannot read it.
--
-- Why an EXCEPTION block rather than a bound on the exponent: numeric input fails on several
-- limits (more than 131072 digits before the point or 16383 after it, counting trailing zeros
-- and the zeros an exponent implies; an exponent that does not fit an integer), and catching
-- the error covers all of them, as legacy code bases do. Only the rare failure path does
-- careful work: a string that PostgreSQL cannot read may still be a representable value
-- ('0e-99999999999999999999' is zero, '1.' followed by 20,000 zeros is one), so that path
-- reduces the string to its significant digits and decides exactly, as the pipeline does,
-- rather than report a wrong reason. The common path costs one subtransaction per string
-- amount, as in the original.
CREATE OR REPLACE FUNCTION legacy.try_numeric(p_text text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    v_parts    text[];
    v_digits   text;
    v_exponent numeric;
BEGIN
    RETURN p_text::numeric;
EXCEPTION
    WHEN numeric_value_out_of_range OR invalid_text_representation THEN
        -- sign, integer digits, fraction digits (only after a point), exponent
        v_parts := regexp_match(p_text, '^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$');
        IF v_parts IS NULL THEN
            RETURN NULL;
        END IF;
        v_digits := ltrim(v_parts[2] || coalesce(v_parts[3], ''), '0');
        IF v_digits = '' THEN
            RETURN 0;  -- zero, whatever its exponent or number of zeros
        END IF;
        IF length(ltrim(ltrim(coalesce(v_parts[4], '0'), '+-'), '0')) > 15 THEN
            RETURN NULL;  -- a non-zero value times 10^(+-10^15 or more): no text can bring it back in range
        END IF;
        -- value = v_digits (no leading or trailing zeros) * 10^v_exponent
        v_exponent := coalesce(v_parts[4], '0')::numeric - length(coalesce(v_parts[3], ''))
                      + (length(v_digits) - length(rtrim(v_digits, '0')));
        v_digits := rtrim(v_digits, '0');
        IF v_exponent < -18 OR length(v_digits) + v_exponent > 20 THEN
            RETURN NULL;  -- more than 18 decimal places, or 10^20 or more
        END IF;
        RETURN (v_parts[1] || v_digits || 'e' || v_exponent::text)::numeric;
END;
$$;

COMMENT ON FUNCTION legacy.try_numeric(text) IS
    'The value of a plain decimal string, or NULL when it is neither readable by numeric input nor representable as numeric(38,18).';


CREATE OR REPLACE FUNCTION legacy.fn_insert_sun_journal(p_date date, p_company_id integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    c_txn CURSOR FOR
        SELECT t.*
        FROM legacy.src_transactions t
        WHERE t.txn_date = p_date
          AND t.company_id = p_company_id
        ORDER BY t.txn_id;

    -- What numeric input skips around a number (space, tab, newline, carriage return, vertical
    -- tab, form feed; no \v escape in PostgreSQL strings), and the plain decimal it must then be.
    c_white_space CONSTANT text := E' \t\n\r\f' || chr(11);
    c_decimal     CONSTANT text := '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$';

    r               legacy.src_transactions%ROWTYPE;
    v_company       legacy.companies%ROWTYPE;
    v_rule          legacy.posting_rules%ROWTYPE;
    -- char(3) like the fx_rates columns, so that the rate look-up uses fx_rates_lookup_idx
    v_currency      legacy.fx_rates.currency%TYPE;
    v_rate          legacy.fx_rates.rate%TYPE;
    v_period        integer;
    v_kind          text;
    v_text          text;
    v_net_numeric   boolean;
    v_tax_numeric   boolean;
    -- unconstrained numeric: exact for any input, so the bounds are checked before anything
    -- is stored in the numeric(18,2) columns
    v_net           numeric;
    v_tax           numeric;
    v_base_net      numeric;
    v_base_tax      numeric;
    v_base_gross    numeric;
    v_net_active    boolean;
    v_tax_active    boolean;
    v_contra_active boolean;
    v_journal_no    bigint;
    v_line_count    integer;
    v_line_no       integer;
    v_account       text;
    v_dc            char(1);
    v_amount_base   numeric;
    v_amount_txn    numeric;
    v_total_debit   numeric;
    v_total_credit  numeric;
    v_posted        integer := 0;
BEGIN
    -- SunSystems period YYYYPPP: 2024-07-18 is 2024007.
    v_period := extract(year FROM p_date)::integer * 1000 + extract(month FROM p_date)::integer;

    -- Undo this function's earlier posting of the same (date, company), so that a rerun
    -- replaces it rather than doubling the GL: take its lines out of the balances, drop the GL
    -- rows that only those lines had made, then delete the lines and the vouchers.
    UPDATE legacy.gl_entries g
    SET debit  = g.debit - s.debit,
        credit = g.credit - s.credit
    FROM (SELECT j.account_code, j.period,
                 sum(CASE WHEN j.dc = 'D' THEN j.amount_base ELSE 0 END) AS debit,
                 sum(CASE WHEN j.dc = 'C' THEN j.amount_base ELSE 0 END) AS credit
          FROM legacy.sun_journal j
          WHERE j.journal_date = p_date AND j.company_id = p_company_id
          GROUP BY j.account_code, j.period) s
    WHERE g.company_id = p_company_id
      AND g.account_code = s.account_code
      AND g.period = s.period;

    DELETE FROM legacy.gl_entries g
    WHERE g.company_id = p_company_id
      AND g.debit = 0 AND g.credit = 0
      AND (g.account_code, g.period) IN (SELECT j.account_code, j.period
                                         FROM legacy.sun_journal j
                                         WHERE j.journal_date = p_date AND j.company_id = p_company_id);

    DELETE FROM legacy.sun_journal WHERE journal_date = p_date AND company_id = p_company_id;
    DELETE FROM legacy.vouchers WHERE journal_date = p_date AND company_id = p_company_id;

    OPEN c_txn;
    LOOP
        FETCH c_txn INTO r;
        EXIT WHEN NOT FOUND;

        -- 1. unknown_company
        SELECT * INTO v_company FROM legacy.companies WHERE company_id = r.company_id;
        IF NOT FOUND THEN
            RAISE NOTICE 'txn % skipped (unknown_company): company % is not in legacy.companies',
                r.txn_id, r.company_id;
            CONTINUE;
        END IF;

        -- 2. no_posting_rule (a NULL txn_type finds no rule either)
        SELECT * INTO v_rule
        FROM legacy.posting_rules
        WHERE company_id = r.company_id AND txn_type = r.txn_type;
        IF NOT FOUND THEN
            RAISE NOTICE 'txn % skipped (no_posting_rule): no posting rule for company % and txn_type %',
                r.txn_id, r.company_id, quote_nullable(r.txn_type);
            CONTINUE;
        END IF;

        -- 3. amount_missing (a data that is not a JSON object has no amount either)
        IF r.data IS NULL OR coalesce(jsonb_typeof(r.data -> 'amount'), 'null') = 'null' THEN
            RAISE NOTICE 'txn % skipped (amount_missing): %', r.txn_id,
                CASE WHEN r.data IS NULL THEN 'data is NULL' ELSE 'data.amount is absent or null' END;
            CONTINUE;
        END IF;

        -- 4. amount_not_numeric. A JSON number is already an exact numeric inside jsonb; a JSON
        -- string must be a plain decimal once trimmed; anything else is not a number. Both
        -- amounts are read before either is judged, because rule 4 comes before rule 5 for both.
        -- A NULL value from try_numeric means "numeric, but beyond numeric(38,18)": rule 5.
        v_net_numeric := false;
        v_net := NULL;
        v_kind := jsonb_typeof(r.data -> 'amount');
        IF v_kind = 'number' THEN
            v_net_numeric := true;
            v_net := (r.data ->> 'amount')::numeric;
        ELSIF v_kind = 'string' THEN
            v_text := btrim(r.data ->> 'amount', c_white_space);
            IF v_text ~ c_decimal THEN
                v_net_numeric := true;
                v_net := legacy.try_numeric(v_text);
            END IF;
        END IF;

        v_tax_numeric := true;
        v_tax := 0;  -- absent or JSON null
        v_kind := coalesce(jsonb_typeof(r.data -> 'tax_amount'), 'null');
        IF v_kind = 'number' THEN
            v_tax := (r.data ->> 'tax_amount')::numeric;
        ELSIF v_kind = 'string' THEN
            v_text := btrim(r.data ->> 'tax_amount', c_white_space);
            IF v_text ~ c_decimal THEN
                v_tax := legacy.try_numeric(v_text);
            ELSE
                v_tax_numeric := false;
            END IF;
        ELSIF v_kind <> 'null' THEN
            v_tax_numeric := false;
        END IF;

        IF NOT v_net_numeric THEN
            RAISE NOTICE 'txn % skipped (amount_not_numeric): amount % is not a decimal number',
                r.txn_id, left((r.data -> 'amount')::text, 60);
            CONTINUE;
        END IF;
        IF NOT v_tax_numeric THEN
            RAISE NOTICE 'txn % skipped (amount_not_numeric): tax_amount % is not a decimal number',
                r.txn_id, left((r.data -> 'tax_amount')::text, 60);
            CONTINUE;
        END IF;

        -- 5. amount_too_precise: not representable as numeric(38,18), judged by value
        -- (trailing zeros after the point do not count as decimal places)
        IF v_net IS NULL OR v_net <> round(v_net, 18) OR abs(v_net) >= 1e20 THEN
            RAISE NOTICE 'txn % skipped (amount_too_precise): amount % has more than 18 decimal places or is 10^20 or more',
                r.txn_id, left(r.data ->> 'amount', 60);
            CONTINUE;
        END IF;
        IF v_tax IS NULL OR v_tax <> round(v_tax, 18) OR abs(v_tax) >= 1e20 THEN
            RAISE NOTICE 'txn % skipped (amount_too_precise): tax_amount % has more than 18 decimal places or is 10^20 or more',
                r.txn_id, left(r.data ->> 'tax_amount', 60);
            CONTINUE;
        END IF;

        -- 6. amount_out_of_range: the signs
        IF v_net <= 0 THEN
            RAISE NOTICE 'txn % skipped (amount_out_of_range): amount % is not greater than 0', r.txn_id, v_net;
            CONTINUE;
        END IF;
        IF v_tax < 0 THEN
            RAISE NOTICE 'txn % skipped (amount_out_of_range): tax_amount % is negative', r.txn_id, v_tax;
            CONTINUE;
        END IF;

        -- 7. bad_currency ([A-Z] in a PostgreSQL regular expression is ASCII only)
        IF coalesce(jsonb_typeof(r.data -> 'currency'), 'absent') <> 'string'
           OR NOT ((r.data ->> 'currency') ~ '^[A-Z]{3}$') THEN
            RAISE NOTICE 'txn % skipped (bad_currency): currency % is not three upper-case letters',
                r.txn_id, coalesce(left((r.data -> 'currency')::text, 60), 'absent');
            CONTINUE;
        END IF;
        v_currency := r.data ->> 'currency';

        -- 8. tax_without_tax_account
        IF v_tax > 0 AND v_rule.tax_account IS NULL THEN
            RAISE NOTICE 'txn % skipped (tax_without_tax_account): tax_amount % but the posting rule for company % and txn_type % has no tax_account',
                r.txn_id, v_tax, r.company_id, quote_literal(r.txn_type);
            CONTINUE;
        END IF;

        -- 9. unknown_account: every account the voucher needs must exist before any is judged
        -- active (rule 9 comes before rule 10 for all three)
        SELECT a.is_active INTO v_net_active
        FROM legacy.accounts a
        WHERE a.company_id = r.company_id AND a.account_code = v_rule.net_account;
        IF NOT FOUND THEN
            RAISE NOTICE 'txn % skipped (unknown_account): net account % is not in the chart of company %',
                r.txn_id, quote_literal(v_rule.net_account), r.company_id;
            CONTINUE;
        END IF;
        v_tax_active := true;
        IF v_tax > 0 THEN
            SELECT a.is_active INTO v_tax_active
            FROM legacy.accounts a
            WHERE a.company_id = r.company_id AND a.account_code = v_rule.tax_account;
            IF NOT FOUND THEN
                RAISE NOTICE 'txn % skipped (unknown_account): tax account % is not in the chart of company %',
                    r.txn_id, quote_literal(v_rule.tax_account), r.company_id;
                CONTINUE;
            END IF;
        END IF;
        SELECT a.is_active INTO v_contra_active
        FROM legacy.accounts a
        WHERE a.company_id = r.company_id AND a.account_code = v_rule.contra_account;
        IF NOT FOUND THEN
            RAISE NOTICE 'txn % skipped (unknown_account): contra account % is not in the chart of company %',
                r.txn_id, quote_literal(v_rule.contra_account), r.company_id;
            CONTINUE;
        END IF;

        -- 10. inactive_account
        IF NOT v_net_active OR NOT v_tax_active OR NOT v_contra_active THEN
            RAISE NOTICE 'txn % skipped (inactive_account): account % of company % is inactive', r.txn_id,
                quote_literal(CASE WHEN NOT v_net_active THEN v_rule.net_account
                                   WHEN NOT v_tax_active THEN v_rule.tax_account
                                   ELSE v_rule.contra_account END),
                r.company_id;
            CONTINUE;
        END IF;

        -- 11. no_rate: the latest usable rate at most 7 days old; 1 in the base currency (a
        -- company without a base currency finds no rate)
        IF v_currency = v_company.base_currency THEN
            v_rate := 1;
        ELSE
            SELECT f.rate INTO v_rate
            FROM legacy.fx_rates f
            WHERE f.currency = v_currency
              AND f.base_currency = v_company.base_currency
              AND f.rate_date BETWEEN r.txn_date - 7 AND r.txn_date
              AND f.rate > 0
            ORDER BY f.rate_date DESC
            LIMIT 1;
            IF NOT FOUND THEN
                RAISE NOTICE 'txn % skipped (no_rate): fx_rates has no %->% rate within 7 days before %',
                    r.txn_id, v_currency, coalesce(v_company.base_currency, 'NULL'), r.txn_date;
                CONTINUE;
            END IF;
        END IF;

        -- 12. amount_out_of_range: the base amounts must fit numeric(18,2), and the net must not
        -- round away to nothing. round(numeric, 2) rounds half away from zero.
        v_base_net := round(v_net * v_rate, 2);
        v_base_tax := round(v_tax * v_rate, 2);
        v_base_gross := v_base_net + v_base_tax;
        IF v_base_net < 0.01 THEN
            RAISE NOTICE 'txn % skipped (amount_out_of_range): base net amount % is below 0.01 (amount % at rate %)',
                r.txn_id, v_base_net, v_net, v_rate;
            CONTINUE;
        END IF;
        IF v_base_net >= 1e16 OR v_base_tax >= 1e16 OR v_base_gross >= 1e16 THEN
            RAISE NOTICE 'txn % skipped (amount_out_of_range): base gross amount % does not fit numeric(18,2)',
                r.txn_id, v_base_gross;
            CONTINUE;
        END IF;

        -- Post: one voucher, its lines (net, tax when tax > 0, contra), and the GL per line.
        v_journal_no := nextval('legacy.journal_no_seq');
        v_line_count := CASE WHEN v_tax > 0 THEN 3 ELSE 2 END;
        v_total_debit := 0;
        v_total_credit := 0;

        FOR v_line_no IN 1 .. v_line_count LOOP
            IF v_line_no = 1 THEN
                v_account := v_rule.net_account;
                v_dc := v_rule.net_side;
                v_amount_base := v_base_net;
                v_amount_txn := v_net;
            ELSIF v_line_no < v_line_count THEN
                v_account := v_rule.tax_account;
                v_dc := v_rule.net_side;
                v_amount_base := v_base_tax;
                v_amount_txn := v_tax;
            ELSE
                v_account := v_rule.contra_account;
                v_dc := CASE WHEN v_rule.net_side = 'D' THEN 'C' ELSE 'D' END;
                v_amount_base := v_base_gross;
                v_amount_txn := v_net + v_tax;
            END IF;

            INSERT INTO legacy.sun_journal
                (company_id, journal_date, journal_type, journal_no, line_no, txn_id,
                 account_code, period, dc, amount_base, data)
            VALUES
                (r.company_id, r.txn_date, v_rule.journal_type, v_journal_no, v_line_no, r.txn_id,
                 v_account, v_period, v_dc, v_amount_base,
                 jsonb_build_object(
                     'amount_txn',    v_amount_txn,
                     'currency',      v_currency,
                     'fx_rate',       v_rate,
                     'description',   r.data ->> 'description',
                     'cost_center',   r.data ->> 'cost_center',
                     'counterparty',  r.data ->> 'counterparty',
                     'document_ref',  r.data ->> 'document_ref',
                     'source_system', r.source_system,
                     'created_by',    r.created_by,
                     'entry_mode',    r.data ->> 'entry_mode'));

            IF v_dc = 'D' THEN
                v_total_debit := v_total_debit + v_amount_base;
            ELSE
                v_total_credit := v_total_credit + v_amount_base;
            END IF;

            UPDATE legacy.gl_entries
            SET debit  = debit  + CASE WHEN v_dc = 'D' THEN v_amount_base ELSE 0 END,
                credit = credit + CASE WHEN v_dc = 'C' THEN v_amount_base ELSE 0 END
            WHERE company_id = r.company_id
              AND account_code = v_account
              AND period = v_period;
            IF NOT FOUND THEN
                INSERT INTO legacy.gl_entries (company_id, account_code, period, debit, credit)
                VALUES (r.company_id, v_account, v_period,
                        CASE WHEN v_dc = 'D' THEN v_amount_base ELSE 0 END,
                        CASE WHEN v_dc = 'C' THEN v_amount_base ELSE 0 END);
            END IF;
        END LOOP;

        INSERT INTO legacy.vouchers
            (journal_no, company_id, journal_date, journal_type, txn_id, line_count, total_debit, total_credit)
        VALUES
            (v_journal_no, r.company_id, r.txn_date, v_rule.journal_type, r.txn_id, v_line_count,
             v_total_debit, v_total_credit);

        v_posted := v_posted + 1;
    END LOOP;
    CLOSE c_txn;

    RETURN v_posted;
END;
$$;

COMMENT ON FUNCTION legacy.fn_insert_sun_journal(date, integer) IS
    'Posts one company-day of legacy.src_transactions to sun_journal, vouchers and gl_entries, replacing an earlier posting of the same day; returns the number of transactions posted. Rows it cannot post are skipped with a NOTICE "txn <id> skipped (<reason>): <detail>".';
