"""Each journal-entry test on hand-made entries: which transactions it flags, and its evidence."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from statistics import median

import polars as pl
import pytest

from journal_pipeline.fraud import jet
from journal_pipeline.fraud.config import FraudConfig
from journal_pipeline_tests.test_fraud_support import DAY, entry, population

CONFIG = FraudConfig()
BEFORE = DAY - dt.timedelta(days=1)
WINDOW = "from 2024-06-20 to 2024-07-18"  # the scored day and the 28 days before it


def flagged(found: pl.DataFrame) -> dict[int, str]:
    """txn_id -> evidence."""
    assert found.columns == list(jet.FINDING_SCHEMA)
    return dict(found.select("txn_id", "evidence").iter_rows())


# --- duplicates --------------------------------------------------------------------------------------


def test_an_exact_duplicate_is_the_later_entry_and_a_same_day_pair_flags_both():
    pop = population(
        [
            entry(1, day=DAY - dt.timedelta(days=3), document_ref="INV-77", amount="2864.78"),  # history
            entry(2, document_ref="INV-77", amount="2864.78"),  # re-entered 3 days later
            entry(3, document_ref="INV-88", amount="500.00"),
            entry(4, document_ref="INV-88", amount="500.00"),  # twice on the scored day
            entry(5, document_ref="INV-77", amount="2864.78", counterparty="Other Ltd"),  # another vendor
            entry(6, document_ref="INV-99", amount="10.00", day=DAY - dt.timedelta(days=15)),  # too long ago
            entry(7, document_ref="INV-99", amount="10.00"),
            entry(8, document_ref="INV-88", amount="500.00", currency="EUR"),  # another currency
        ]
    )
    found = flagged(jet.duplicate(pop, CONFIG))
    assert set(found) == {2, 3, 4}
    assert found[2] == (
        "same counterparty ACME Ltd, amount 2,864.78 GBP and document_ref INV-77 as txn 1 of 2024-07-15"
    )
    same_day = "same counterparty ACME Ltd, amount 500.00 GBP and document_ref INV-88 as txn 4 of 2024-07-18"
    assert found[3] == same_day


def test_a_near_duplicate_has_a_variant_of_the_document_ref():
    pop = population(
        [
            entry(1, day=BEFORE, document_ref="INV-2024-1550001", amount="1234.50"),
            entry(2, document_ref="INV-2024-1550001-A", amount="1234.50"),
            entry(3, document_ref="INV2024-1550001", amount="1234.50"),
            entry(4, document_ref="INV-2024-1550002", amount="1234.50"),  # another document
            entry(5, document_ref="INV-2024-1550001-A", amount="1234.51"),  # another amount
        ]
    )
    found = flagged(jet.near_duplicate(pop, CONFIG))
    assert set(found) == {2, 3}
    assert found[3] == (
        "same counterparty ACME Ltd and amount 1,234.50 GBP as txn 2 of 2024-07-18, document_ref "
        "INV2024-1550001 is a variant of INV-2024-1550001-A (and 1 more)"
    )
    assert jet.duplicate(pop, CONFIG).height == 0


def test_document_key_drops_a_variants_marks():
    refs = pl.Series(["INV-2024-0001", "inv-2024-0001-a", "INV2024-0001", "INV-2024-0001 DUP", "INV-2024-02"])
    keys = pl.select(jet.document_key(pl.lit(refs))).to_series().to_list()
    assert keys == ["INV20240001", "INV20240001", "INV20240001", "INV20240001", "INV202402"]


# --- amounts ---------------------------------------------------------------------------------------


def test_round_amounts_are_multiples_of_a_thousand_in_the_currencys_scale():
    pop = population(
        [
            entry(1, amount="25000.00"),
            entry(2, amount="25000.50"),
            entry(3, amount="1000000", currency="JPY"),
            entry(4, amount="50000", currency="JPY"),  # 50,000 yen is not round money
            entry(5, amount="999.00"),
            entry(6, amount="30000", currency="SEK"),
        ]
    )
    found = flagged(jet.round_amount(pop, CONFIG))
    assert found == {
        1: "25,000.00 GBP is a multiple of 1,000 GBP",
        3: "1,000,000 JPY is a multiple of 100,000 JPY",
        6: "30,000.00 SEK is a multiple of 10,000 SEK",
    }


def test_just_below_the_posters_limit():
    pop = population(
        [
            entry(1, base_gross="9950.00", poster_limit="10000.00"),
            entry(2, base_gross="9400.00", poster_limit="10000.00"),  # 6 % below: not "just"
            entry(3, base_gross="10000.00", poster_limit="10000.00"),  # at the limit: not below
            entry(4, base_gross="9950.00", poster_limit=None),  # unlimited
            entry(5, base_gross="0.00", poster_limit="0.00"),  # an interface: may approve nothing
            entry(6, base_gross="4750.00", poster_limit="5000.00"),  # exactly 5 % below
        ]
    )
    found = flagged(jet.just_below_limit(pop, CONFIG))
    assert found == {
        1: "gross 9,950.00 is 0.5 % below poster u010's approval limit 10,000.00",
        6: "gross 4,750.00 is 5.0 % below poster u010's approval limit 5,000.00",
    }


def test_a_split_is_similar_parts_under_the_limit_together_over_it():
    clerk = {"created_by": "u011", "counterparty": "Kestrel Energy", "description": "Fuel – Kestrel Energy"}
    pop = population(
        [
            entry(1, day=BEFORE, base_gross="3000.00", **clerk),  # the first part, keyed the day before
            entry(2, base_gross="3050.00", **clerk),  # the second part: together 6,050 > 5,000
            entry(3, base_gross="3000.00", created_by="u012"),  # another clerk, alone
            entry(4, base_gross="3000.00", created_by="u012", description="Other goods"),  # other goods
        ]
    )
    found = flagged(jet.split_transaction(pop, CONFIG))
    assert found == {
        2: "u011 keyed 2 similar entries for Kestrel Energy from 2024-07-17 to 2024-07-18, each under their "
        "approval limit 5,000.00, together 6,050.00 (this one 3,050.00; with txns 1)"
    }


@pytest.mark.parametrize(
    ("second", "why"),
    [
        ({"base_gross": "4000.00"}, "not similar: 4,000 is 25 % above 3,000"),
        ({"base_gross": "1800.00"}, "below half the limit"),
        ({"base_gross": "3000.00", "document_ref": "INV-1"}, "the same document twice is a duplicate"),
        ({"base_gross": "3000.00", "day": DAY - dt.timedelta(days=5)}, "five days apart"),
    ],
)
def test_what_is_not_a_split(second, why):
    first = entry(1, base_gross="3000.00", document_ref="INV-1")
    pop = population([first, entry(2, **second)], first=DAY - dt.timedelta(days=5), last=DAY)
    assert jet.split_transaction(pop, CONFIG).height == 0, why


def test_similar_amounts_in_a_stream_of_routine_entries_are_not_a_split():
    routine = [entry(k, base_gross=f"{3000 + 400 * k}.00" if k > 2 else "3000.00") for k in range(1, 6)]
    # two similar parts, but among five entries for the vendor that day: under half of them
    assert jet.split_transaction(population(routine), CONFIG).height == 0


def test_an_amount_far_above_the_accounts_history_is_an_outlier():
    amounts = [100 * 1.1**k for k in range(40)]  # 100.00 .. 4,114.48, log-spaced
    days = [DAY - dt.timedelta(days=1 + k % 20) for k in range(40)]
    history = enumerate(zip(days, amounts, strict=True))
    rows = [entry(k + 1, day=day, base_net=f"{a:.2f}") for k, (day, a) in history]
    rows.append(entry(100, base_net="1000000.00"))
    rows.append(entry(101, base_net="1000.00"))
    rows.append(entry(102, base_net="1000000.00", net_dc="C"))  # another side: no history
    found = jet.amount_outlier(population(rows), CONFIG)
    assert found["txn_id"].to_list() == [100]
    # the median and MAD of log10 amounts over the account's 42 debits, the outlier's own included
    logs = [math.log10(v) for v in [*(round(a, 2) for a in amounts), 1000000.0, 1000.0]]
    center = median(logs)
    mad = median(abs(v - center) for v in logs)
    z = (6 - center) / (1.4826 * mad)
    assert flagged(found)[100] == (
        f"1,000,000.00 is {round(z, 1)} robust standard deviations (log scale) above the median "
        f"{10**center:,.2f} of 42 debits to account 5000 from 2024-06-20 to 2024-07-18 (flagged above 3.5)"
    )


# --- who and how ------------------------------------------------------------------------------------


def test_self_approval():
    pop = population([entry(1, approved_by="u010"), entry(2), entry(3, approved_by=None, manual=False)])
    assert flagged(jet.self_approval(pop, CONFIG)) == {1: "u010 entered and approved it"}


def test_suspicious_keywords_are_whole_words_in_any_case():
    descriptions = {
        1: "Plug to balance trial balance",
        2: "Adjustment per CEO instruction",
        3: "Readjustment of coding",  # not a whole word
        4: "Write-off of old balance – urgent",
        5: "Correction of coding error",
        6: "MISC. charges",
        7: "Reverse and repost per CFO",
    }
    pop = population([entry(k, description=d) for k, d in descriptions.items()])
    found = flagged(jet.suspicious_keyword(pop, CONFIG))
    assert set(found) == {1, 2, 4, 6, 7}
    assert found[2] == 'description "Adjustment per CEO instruction" contains "adjustment"'
    assert found[4] == 'description "Write-off of old balance – urgent" contains "write-off"'
    assert found[6] == 'description "MISC. charges" contains "misc"'


def test_a_manual_entry_where_a_source_system_is_otherwise_automatic():
    bank_feed = [entry(k, source_system="CB", manual=False, created_by="u003") for k in range(1, 300)]
    journals = [entry(k, source_system="GJ", manual=k % 2 == 0) for k in range(300, 600)]
    rows = [*bank_feed, entry(1000, source_system="CB", manual=True), *journals]
    found = flagged(jet.manual_entry(population(rows), CONFIG))
    assert found == {
        1000: "keyed by hand in CB, where 1 of 300 entries (0.33 %) from 2024-06-20 to 2024-07-18 were manual"
    }


def test_an_unusual_poster_keys_an_account_others_key_routinely():
    days = {k: DAY - dt.timedelta(days=k % 10) for k in range(1, 120)}
    team = [entry(k, day=day, created_by=f"u0{10 + k % 3}") for k, day in days.items()]
    outsider = entry(500, created_by="u047")
    interface = entry(501, created_by="u001", manual=False)  # interfaces are not judged
    junior = [entry(600 + k, created_by="u015", day=DAY - dt.timedelta(days=k)) for k in range(4)]  # 3.2 %
    found = flagged(jet.unusual_poster(population([*team, outsider, interface, *junior]), CONFIG))
    assert found == {
        500: "u047 keyed 1 of the 124 manual entries to account 5000 of company 1 (0.81 %) from 2024-06-20 "
        "to 2024-07-18"
    }
    # with too few entries to know who works on the account, nobody is unusual
    assert jet.unusual_poster(population([*team[:20], outsider]), CONFIG).height == 0


# --- accounts -----------------------------------------------------------------------------------------


def test_suspense_posting():
    pop = population(
        [
            entry(1, net_account="1990", net_suspense=True),
            entry(2, contra_account="1190", contra_suspense=True),
            entry(3),
        ]
    )
    assert flagged(jet.suspense_posting(pop, CONFIG)) == {
        1: "posts to suspense account 1990 (net side)",
        2: "posts to suspense account 1190 (contra side)",
    }


def _chart_population() -> list[dict[str, object]]:
    """1,200 entries of company 1: purchases (5000/2000), sales (4000/1100), bank fees (6500/1200);
    one donation (7950/1200) and one cash sale (4000/1200)."""
    rows = []
    for k in range(1, 1199):
        net, contra = [("5000", "2000"), ("4000", "1100"), ("6500", "1200")][k % 3]
        rows.append(entry(k, day=DAY - dt.timedelta(days=k % 28), net_account=net, contra_account=contra))
    rows.append(entry(2000, net_account="7950", contra_account="1200"))
    rows.append(entry(2001, net_account="4000", contra_account="1200"))
    return rows


def test_a_rarely_used_account():
    found = flagged(jet.rare_account(population(_chart_population()), CONFIG))
    assert found == {2000: f"account 7950 was used by 1 of 1,200 entries of company 1 (0.083 %) {WINDOW}"}


def test_a_rare_pair_of_busy_accounts():
    found = flagged(jet.rare_account_pair(population(_chart_population()), CONFIG))
    assert found == {
        2001: "accounts 4000 / 1200 were used together by 1 of 1,200 entries of company 1 (0.083 %), "
        "though 4000 was used by 401 and 1200 by 401, from 2024-06-20 to 2024-07-18"
    }


def test_rarity_needs_a_population():
    small = _chart_population()[-300:]
    pop = population(small)
    assert jet.rare_account(pop, CONFIG).height == 0
    assert jet.rare_account_pair(pop, CONFIG).height == 0


# --- when ---------------------------------------------------------------------------------------------


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def test_after_hours_is_a_manual_entry_outside_business_hours_local_time():
    pop = population(
        [
            entry(1, local_at=at(23, 10)),
            entry(2, local_at=at(23, 10), manual=False),  # an interface batch
            entry(3, local_at=at(19, 59)),
            entry(4, local_at=at(20, 0)),
            entry(5, local_at=at(6, 59)),
            entry(6, local_at=None),  # company time zone unknown
        ]
    )
    assert flagged(jet.after_hours(pop, CONFIG)) == {
        1: "keyed by hand at 2024-07-18 23:10 local time, outside 07:00-20:00",
        4: "keyed by hand at 2024-07-18 20:00 local time, outside 07:00-20:00",
        5: "keyed by hand at 2024-07-18 06:59 local time, outside 07:00-20:00",
    }


def test_weekend_and_holiday_entries_are_manual_entries_on_the_local_calendar():
    saturday = DAY + dt.timedelta(days=2)
    pop = population(
        [
            entry(1, day=saturday, local_at=at(10, 0, saturday)),
            entry(2, day=saturday, local_at=at(10, 0, saturday), manual=False),
            entry(3, day=DAY, local_at=at(0, 30, saturday)),  # keyed after midnight, local Saturday
            entry(4, holiday="Christmas Day (GB)", local_at=at(11, 0)),
            entry(5, holiday="Christmas Day (GB)", manual=False),
        ],
        first=DAY,
        last=saturday,
    )
    assert flagged(jet.weekend_entry(pop, CONFIG)) == {
        1: "keyed by hand on Saturday 2024-07-20 10:00 local time",
        3: "keyed by hand on Saturday 2024-07-20 00:30 local time",
    }
    assert flagged(jet.holiday_entry(pop, CONFIG)) == {
        4: "keyed by hand on Christmas Day (GB), 2024-07-18 11:00 local time"
    }


def test_every_test_returns_findings_of_the_same_shape_on_an_empty_window():
    pop = population([entry(1, day=BEFORE)])  # history only: nothing to score
    for name, test in jet.ALL_TESTS.items():
        found = test(pop, CONFIG)
        assert found.height == 0, name
        assert found.schema == pl.Schema(jet.FINDING_SCHEMA), name


def test_a_decimal_amount_keeps_its_cents_in_the_evidence():
    earlier = entry(1, day=BEFORE, amount="0.10", document_ref="R")
    pop = population([earlier, entry(2, amount="0.10", document_ref="R")])
    assert pop.entries["amount_txn"][0] == Decimal("0.10")
    assert flagged(jet.duplicate(pop, CONFIG))[2].startswith("same counterparty ACME Ltd, amount 0.10 GBP")


def test_the_keyword_prefilter_keeps_every_description_the_regex_matches():
    descriptions = [
        "Write\u00a0off of old balance",  # a no-break space is white space to the regex
        "\u017fuspense clearing",  # a long s folds to s
        "PER  CFO request",
        "Miscellaneous – Café",
        "Office supplies – ACME Ltd",
        "Überweisung adjust",
        "readjusted invoice",
        "",
    ]
    pop = population([entry(k, description=d) for k, d in enumerate(descriptions, start=1)])
    pattern = jet.keyword_pattern(CONFIG.keywords)
    everywhere = pop.scored.filter(pl.col("description").str.extract(pattern, 1).is_not_null())
    found = flagged(jet.suspicious_keyword(pop, CONFIG))
    assert set(found) == set(everywhere["txn_id"]) == {1, 2, 3, 4, 6}
    assert found[2] == 'description "\u017fuspense clearing" contains "\u017fuspense"'
