-- The audit trail (SPEC section 6): one hash chain of day seals, one hash chain of events.
-- The exact bytes behind every hash are documented in journal_pipeline/audit/chain.py (seals,
-- events), journal_pipeline/audit/encoding.py (journal lines) and journal_pipeline/audit/merkle.py
-- (the day's RFC 6962 Merkle tree).
--
-- Invariants enforced here, whoever writes:
--   1. append-only: UPDATE and DELETE (row triggers) and TRUNCATE (statement triggers) are refused
--      on every audit table, for every role, superusers included, as long as the triggers are on;
--      the pipeline role has no UPDATE, DELETE or TRUNCATE privilege in the first place;
--   2. one chain, no fork: a new seal (event) must be number head + 1 and link to the head's hash.
--      The insert trigger takes the chain's transaction-level advisory lock before it reads the
--      head, so concurrent writers queue; UNIQUE prev_*_hash makes a fork impossible regardless;
--   3. a reseal names the seal it supersedes: the latest earlier seal of the same day.
-- What this schema cannot stop (a superuser disabling the triggers and rewriting the chain) is
-- what `journal-pipeline audit verify --head FILE` detects, with a head exported beforehand.

CREATE SCHEMA IF NOT EXISTS audit;

-- One row per sealing of a day. seal_hash = SHA-256(prev_seal_hash || merkle_root || metadata).
CREATE TABLE audit.seals (
    seal_seq               bigint        PRIMARY KEY CHECK (seal_seq >= 1),
    partition_date         date          NOT NULL,
    line_count             bigint        NOT NULL CHECK (line_count >= 0),
    total_debit            numeric(38,2) NOT NULL,
    total_credit           numeric(38,2) NOT NULL,
    merkle_root            bytea         NOT NULL CHECK (octet_length(merkle_root) = 32),
    leaf_identities_sha256 bytea         NOT NULL CHECK (octet_length(leaf_identities_sha256) = 32),
    encoding_version       text          NOT NULL,
    prev_seal_hash         bytea         NOT NULL UNIQUE CHECK (octet_length(prev_seal_hash) = 32),
    seal_hash              bytea         NOT NULL UNIQUE CHECK (octet_length(seal_hash) = 32),
    sealed_at              timestamptz   NOT NULL,
    run_id                 text          NOT NULL,
    code_version           text          NOT NULL,
    supersedes_seq         bigint        REFERENCES audit.seals (seal_seq),
    CHECK (supersedes_seq < seal_seq)
);
CREATE INDEX seals_partition_idx ON audit.seals (partition_date, seal_seq);

COMMENT ON TABLE audit.seals IS
    'Append-only hash chain of day seals; see journal_pipeline/audit/chain.py for the exact hashed bytes';

-- The leaves of each seal, so that a verification can name the line that changed: 14 bytes of
-- identity (company_id int4, txn_id int8, line_no int2, big-endian) and 32 bytes of leaf hash per
-- line, in leaf order. Two values per seal, not a row per line, to keep sealing a day fast.
CREATE TABLE audit.seal_leaves (
    seal_seq    bigint PRIMARY KEY REFERENCES audit.seals (seal_seq),
    leaf_count  bigint NOT NULL CHECK (leaf_count >= 0),
    identities  bytea  NOT NULL CHECK (octet_length(identities) = 14 * leaf_count),
    leaf_hashes bytea  NOT NULL CHECK (octet_length(leaf_hashes) = 32 * leaf_count)
);
-- Out of line, uncompressed: hashes do not compress, and compressing the identities (about 4:1
-- with pglz) would add a tenth of the 2-second budget for sealing a 300,000-line day.
ALTER TABLE audit.seal_leaves ALTER COLUMN leaf_hashes SET STORAGE EXTERNAL,
    ALTER COLUMN identities SET STORAGE EXTERNAL;

-- The event log: what happened to the audit trail, hash-chained like the seals.
CREATE TABLE audit.events (
    event_seq       bigint      PRIMARY KEY CHECK (event_seq >= 1),
    event_type      text        NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.]*$'),
    partition_date  date,
    payload         jsonb       NOT NULL,
    prev_event_hash bytea       NOT NULL UNIQUE CHECK (octet_length(prev_event_hash) = 32),
    event_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(event_hash) = 32),
    recorded_at     timestamptz NOT NULL,
    run_id          text
);
CREATE INDEX events_partition_idx ON audit.events (partition_date, event_seq);

-- --- append-only ------------------------------------------------------------------------------

CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% refused: the audit trail is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING HINT = 'seals and events are never changed or removed; reseal a day to supersede its seal';
END
$$;

CREATE TRIGGER seals_append_only BEFORE UPDATE OR DELETE ON audit.seals
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER seals_no_truncate BEFORE TRUNCATE ON audit.seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER seal_leaves_append_only BEFORE UPDATE OR DELETE ON audit.seal_leaves
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER seal_leaves_no_truncate BEFORE TRUNCATE ON audit.seal_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- --- one chain ------------------------------------------------------------------------------------
-- 5354884691151571284 = int.from_bytes(b'JP_AUDIT'), journal_pipeline.audit.seal.AUDIT_CHAIN_LOCK.
-- Each query in these volatile functions takes a fresh snapshot (READ COMMITTED), so the head
-- read after the lock is the committed head.

CREATE FUNCTION audit.seal_extends_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_seq      bigint := 0;
    head_hash     bytea  := decode(repeat('00', 32), 'hex');
    latest_of_day bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(5354884691151571284);
    SELECT seal_seq, seal_hash INTO head_seq, head_hash FROM audit.seals ORDER BY seal_seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := decode(repeat('00', 32), 'hex');
    END IF;
    IF NEW.seal_seq <> head_seq + 1 OR NEW.prev_seal_hash <> head_hash THEN
        RAISE EXCEPTION 'audit.seals: seal % (linking to %) does not extend the chain, whose head is seal % (hash %)',
            NEW.seal_seq, encode(NEW.prev_seal_hash, 'hex'), head_seq, encode(head_hash, 'hex')
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'take the chain lock, read the head, then append seal head + 1 linking to its hash';
    END IF;
    SELECT max(seal_seq) INTO latest_of_day FROM audit.seals WHERE partition_date = NEW.partition_date;
    IF NEW.supersedes_seq IS DISTINCT FROM latest_of_day THEN
        RAISE EXCEPTION 'audit.seals: seal % of % supersedes %, but the latest seal of that day is %',
            NEW.seal_seq, NEW.partition_date, coalesce(NEW.supersedes_seq::text, 'none'),
            coalesce(latest_of_day::text, 'none')
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER seals_extend_chain BEFORE INSERT ON audit.seals
    FOR EACH ROW EXECUTE FUNCTION audit.seal_extends_chain();

CREATE FUNCTION audit.event_extends_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_seq  bigint := 0;
    head_hash bytea  := decode(repeat('00', 32), 'hex');
BEGIN
    PERFORM pg_advisory_xact_lock(5354884691151571284);
    SELECT event_seq, event_hash INTO head_seq, head_hash FROM audit.events ORDER BY event_seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := decode(repeat('00', 32), 'hex');
    END IF;
    IF NEW.event_seq <> head_seq + 1 OR NEW.prev_event_hash <> head_hash THEN
        RAISE EXCEPTION 'audit.events: event % (linking to %) does not extend the chain, whose head is event % (hash %)',
            NEW.event_seq, encode(NEW.prev_event_hash, 'hex'), head_seq, encode(head_hash, 'hex')
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'take the chain lock, read the head, then append event head + 1 linking to its hash';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_extend_chain BEFORE INSERT ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.event_extends_chain();

-- --- least privilege ------------------------------------------------------------------------------
-- The pipeline reads and appends; it can neither change nor remove anything. No sequences: the
-- sequence numbers are head + 1 under the chain lock, so a rolled-back seal leaves no gap that
-- would look like a removed one.

REVOKE ALL ON audit.seals, audit.seal_leaves, audit.events FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO journal_pipeline;
GRANT SELECT, INSERT ON audit.seals, audit.seal_leaves, audit.events TO journal_pipeline;
