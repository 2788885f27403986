"""Journal-entry tests (JET, ISA 240 / AS 2401): one pure function per red flag.

Each test takes the :class:`~journal_pipeline.fraud.population.Population` (the scored days'
entries and their history) and the :class:`~journal_pipeline.fraud.config.FraudConfig`, and
returns FINDINGS: one row per scored transaction it fires on, with a strength in 0..1 and the
evidence in words and numbers. Whole-column Polars: joins, group-bys and rolling per-day sums, no
loop over rows. Comparisons with "history" use the scored day and the days before it only, from
the per-day counts of the population's history; the duplicate and split tests read the earlier
entries with a scored entry's key, nothing else (see population.py).

To add a test: write a function here with this signature, add its name to config.TESTS and
DEFAULT_WEIGHTS, and list it in ALL_TESTS. The Benford tests are in benford.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from journal_pipeline.fraud import text
from journal_pipeline.fraud.amounts import AMOUNT_KEYS, log_amount, median_and_mad
from journal_pipeline.fraud.config import CURRENCY_SCALE, FraudConfig
from journal_pipeline.fraud.features import key_fingerprint, window_totals

if TYPE_CHECKING:  # population.py builds on the tests' modules (benford), not the other way round
    from journal_pipeline.fraud.population import Population

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "txn_id": pl.Int64(),
    "test": pl.String(),
    "strength": pl.Float64(),
    "evidence": pl.String(),
    "group": pl.String(),  # the group judged, for group tests (Benford); null otherwise
}

Test = Callable[["Population", FraudConfig], pl.DataFrame]


def findings(frame: pl.DataFrame, test: str, evidence: pl.Expr) -> pl.DataFrame:
    """FINDING_SCHEMA rows, strength 1, for every row of ``frame`` (which has ``txn_id``)."""
    return frame.select(
        "txn_id",
        pl.lit(test).alias("test"),
        pl.lit(1.0).alias("strength"),
        evidence.alias("evidence"),
        pl.lit(None, dtype=pl.String).alias("group"),
    ).cast(FINDING_SCHEMA)  # type: ignore[arg-type]


def no_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


def _window_text(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    return pl.lit("from ") + text.date(first) + pl.lit(" to ") + text.date(last)


# --- duplicates ------------------------------------------------------------------------------------

_REF_SUFFIX = r"[-/_.\s]+(?:[A-Z]{1,4}|\d)$"  # "-A", "/B", " DUP", "-2": a re-keyed variant's tail


def document_key(ref: pl.Expr) -> pl.Expr:
    """A document_ref with the marks of a re-keyed variant removed: upper case, a short suffix
    after a separator ("-A", " DUP") dropped, then every non-alphanumeric character dropped.
    INV-2024-0001, INV-2024-0001-A and INV2024-0001 all become INV20240001."""
    without_suffix = ref.str.to_uppercase().str.strip_chars().str.replace(_REF_SUFFIX, "")
    return without_suffix.str.replace_all(r"[^A-Z0-9]", "")


def _matching_documents(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Pairs (scored entry, other entry) of one company, counterparty, currency and amount to the
    last decimal, the other entered up to duplicate_days before, or the same day."""
    return pop.shared(("matching_documents", config.duplicate_days), lambda: _document_pairs(pop, config))


def _document_pairs(pop: Population, config: FraudConfig) -> pl.DataFrame:
    columns = ["txn_id", "company_id", "day", "counterparty", "currency", "amount_txn", "document_ref"]
    keys = ["company_id", "counterparty", "currency", "amount_txn"]
    usable = pl.col("document_ref").is_not_null() & pl.col("counterparty").is_not_null()
    scored = pop.scored.filter(usable).select(columns)
    earliest = pop.first_day - dt.timedelta(days=config.duplicate_days)
    # the scored days' entries and the earlier ones with their keys; only a key that two entries
    # or more share (or its fingerprint: the join below compares the keys) can make a pair
    others = (
        pop.entries_matching(scored.select(keys), earliest, usable, columns)
        .filter(key_fingerprint(keys).is_duplicated())
        .with_columns(document_key(pl.col("document_ref")).alias("key"))
    )
    scored = others.filter(pl.col("day") >= pop.first_day)
    return scored.join(others, on=keys, suffix="_other").filter(
        (pl.col("txn_id_other") != pl.col("txn_id"))
        & (pl.col("day_other") <= pl.col("day"))
        & (pl.col("day_other") >= pl.col("day") - pl.duration(days=config.duplicate_days))
    )


def _closest(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per scored entry: its closest match (latest day, then lowest txn_id) and the match count."""
    return (
        pairs.sort("txn_id", "day_other", "txn_id_other", descending=[False, True, False])
        .group_by("txn_id", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("matches"))
    )


def _also(matches: pl.Expr) -> pl.Expr:
    return (
        pl.when(matches > 1)
        .then(pl.lit(" (and ") + (matches - 1).cast(pl.String) + pl.lit(" more)"))
        .otherwise(pl.lit(""))
    )


def duplicate(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """The same document entered twice: same company, counterparty, currency, amount and
    document_ref within duplicate_days (a later entry, or either of two on the same day): the
    pattern of a double payment or a double-billed invoice."""
    pairs = _matching_documents(pop, config).filter(pl.col("document_ref") == pl.col("document_ref_other"))
    best = _closest(pairs)
    evidence = (
        pl.lit("same counterparty ")
        + pl.col("counterparty")
        + pl.lit(", amount ")
        + text.currency_money(pl.col("amount_txn"), pl.col("currency"))
        + pl.lit(" and document_ref ")
        + pl.col("document_ref")
        + pl.lit(" as txn ")
        + pl.col("txn_id_other").cast(pl.String)
        + pl.lit(" of ")
        + text.date(pl.col("day_other"))
        + _also(pl.col("matches"))
    )
    return findings(best, "duplicate", evidence)


def near_duplicate(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """The same counterparty, currency and amount within duplicate_days under a variant of the
    same document_ref (a suffix such as -A, a separator dropped): how a rejected duplicate is
    typically keyed again so that the system's duplicate check does not stop it."""
    pairs = _matching_documents(pop, config).filter(
        (pl.col("document_ref") != pl.col("document_ref_other")) & (pl.col("key") == pl.col("key_other"))
    )
    best = _closest(pairs)
    evidence = (
        pl.lit("same counterparty ")
        + pl.col("counterparty")
        + pl.lit(" and amount ")
        + text.currency_money(pl.col("amount_txn"), pl.col("currency"))
        + pl.lit(" as txn ")
        + pl.col("txn_id_other").cast(pl.String)
        + pl.lit(" of ")
        + text.date(pl.col("day_other"))
        + pl.lit(", document_ref ")
        + pl.col("document_ref")
        + pl.lit(" is a variant of ")
        + pl.col("document_ref_other")
        + _also(pl.col("matches"))
    )
    return findings(best, "near_duplicate", evidence)


# --- amounts ----------------------------------------------------------------------------------------


def round_amount(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """A net amount that is an exact multiple of round_amount_units in the currency's everyday
    scale (1,000.00 GBP, 100,000 JPY): estimates and invented figures are round, invoices rarely."""
    scale = pl.col("currency").replace_strict(dict(CURRENCY_SCALE), default=1, return_dtype=pl.Int64)
    unit = scale * config.round_amount_units
    as_text = pl.col("amount_txn").cast(pl.String)
    whole = as_text.str.extract(r"^(\d+)", 1).cast(pl.Int128, strict=False)
    fraction_zero = as_text.str.extract(r"\.(\d*)$", 1).fill_null("").str.contains(r"^0*$")
    hit = pop.scored.with_columns(unit.alias("unit"), whole.alias("whole")).filter(
        fraction_zero & (pl.col("whole") > 0) & (pl.col("whole") % pl.col("unit") == 0)
    )
    evidence = (
        text.currency_money(pl.col("amount_txn"), pl.col("currency"))
        + pl.lit(" is a multiple of ")
        + text.count(pl.col("unit"))
        + pl.lit(" ")
        + pl.col("currency")
    )
    return findings(hit, "round_amount", evidence)


def just_below_limit(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Gross base amount within just_below_band below the poster's approval limit.

    The limit is the poster's (``created_by``'s ``approval_limit``, in the company's base
    currency): the largest amount they may authorise. An entry kept just under it stays within
    their own authority and avoids the scrutiny of a higher approver. Unlimited users (NULL) and
    users who may approve nothing (0, the interfaces) have no such threshold.
    """
    limit = pl.col("poster_limit")
    gross = pl.col("base_gross")
    below = 1 - gross.cast(pl.Float64) / limit.cast(pl.Float64)
    hit = pop.scored.filter(
        (limit > 0)
        & (gross < limit)
        & (gross.cast(pl.Float64) >= limit.cast(pl.Float64) * (1 - config.just_below_band))
    )
    evidence = (
        pl.lit("gross ")
        + text.money(gross)
        + pl.lit(" is ")
        + text.percent(below, 2)
        + pl.lit(" below poster ")
        + pl.col("created_by")
        + pl.lit("'s approval limit ")
        + text.money(limit)
    )
    return findings(hit, "just_below_limit", evidence)


def split_transaction(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """One purchase cut into pieces so that none needs a higher approval.

    Entries one poster keyed for one counterparty (with split_same_description: for the same
    description, i.e. the same goods) within split_days (the scored day and the days before it),
    each between split_min_share of the poster's approval limit and the limit, within
    split_similarity of this entry's amount, together above the limit, and making up at least
    split_min_part_share of everything the poster keyed for that counterparty and description
    in those days: pieces of one thing, not a few similar amounts in a stream of routine
    entries (such as a GL accountant's many internal journals).

    Fires on every part keyed on the scored day once the parts so far exceed the limit; a part
    keyed on an earlier day was scored before the split was complete and keeps its score.
    """
    limit = pl.col("poster_limit")
    gross = pl.col("base_gross")
    keys = ["company_id", "created_by", "counterparty"]
    if config.split_same_description:
        keys.append("description")
    valid = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
    part = (
        valid
        & (limit > 0)
        & (gross < limit)
        & (gross.cast(pl.Float64) >= limit.cast(pl.Float64) * config.split_min_share)
    )
    earliest = pop.first_day - dt.timedelta(days=config.split_days - 1)
    columns = ["txn_id", *keys, "day", "base_gross", "document_ref"]
    scored = pop.scored.filter(part).select(*columns, "poster_limit")
    # every entry with a scored part's key: the candidate parts and the count of what was keyed
    recent = pop.entries_matching(scored.select(keys), earliest, valid, [*columns, "poster_limit"])
    candidates = recent.filter(part).select(columns)
    a, b = pl.col("base_gross").cast(pl.Float64), pl.col("base_gross_other").cast(pl.Float64)
    parts = (
        scored.join(candidates, on=keys, suffix="_other")
        .filter(
            (pl.col("txn_id_other") != pl.col("txn_id"))
            & (pl.col("day_other") <= pl.col("day"))
            & (pl.col("day_other") > pl.col("day") - pl.duration(days=config.split_days))
            & ((a - b).abs() <= config.split_similarity * pl.max_horizontal(a, b))
            # the same document twice is a duplicate (its own test), not two pieces of a purchase
            & pl.col("document_ref").ne_missing(pl.col("document_ref_other"))
        )
        .sort("txn_id", "txn_id_other")
        .group_by("txn_id", maintain_order=True)
        .agg(
            pl.col(*keys, "day", "base_gross", "poster_limit").first(),
            pl.col("base_gross_other").sum().alias("partners_gross"),
            pl.col("txn_id_other").alias("partner_ids"),
            pl.col("day_other").min().alias("first_day"),
        )
        .with_columns(
            (gross + pl.col("partners_gross")).alias("total"),
            (pl.col("partner_ids").list.len() + 1).alias("parts"),
        )
        .filter(pl.col("total") > limit)
    )
    daily = recent.group_by(*keys, "day").agg(pl.len().alias("keyed"))
    hit = window_totals(daily, keys, ["keyed"], parts, config.split_days - 1).filter(
        pl.col("parts") >= config.split_min_part_share * pl.col("keyed")
    )
    evidence = (
        pl.col("created_by")
        + pl.lit(" keyed ")
        + pl.col("parts").cast(pl.String)
        + pl.lit(" similar entries for ")
        + pl.col("counterparty")
        + pl.lit(" ")
        + _window_text(pl.col("first_day"), pl.col("day"))
        + pl.lit(", each under their approval limit ")
        + text.money(limit)
        + pl.lit(", together ")
        + text.money(pl.col("total"))
        + pl.lit(" (this one ")
        + text.money(gross)
        + pl.lit("; with txns ")
        + text.ids(pl.col("partner_ids"))
        + pl.lit(")")
    )
    return findings(hit, "split_transaction", evidence)


def amount_outlier(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """A base net amount far above what the account usually carries: the modified z-score
    0.6745 (x - median) / MAD = (x - median) / (1.4826 MAD) of x = log10(amount), against the
    same company, net account and side over the scored day and the history_days before it.

    Logs, because amounts are multiplicative (a 10x error is as far from 100 as from 10,000);
    median and MAD, because a mean and standard deviation would be dragged by the very outliers
    they should expose. Only the upper tail is flagged: misstatement risk lies in large amounts.
    Computed per scored day (at most the days of one run), so that history never includes a
    later day; exactly, from each day's binned amounts (journal_pipeline.fraud.amounts).
    """
    scored = pop.scored.filter(pl.col("base_net") > 0).select(
        "txn_id", *AMOUNT_KEYS, "day", "base_net", log_amount(pl.col("base_net")).alias("x")
    )
    history, per_day = pop.history, []
    for (day,) in scored.select("day").unique().sort("day").iter_rows():  # one pass per scored day
        todays = scored.filter(pl.col("day") == day)
        first = day - dt.timedelta(days=config.history_days)
        accounts = todays.select(AMOUNT_KEYS).unique()
        stats = median_and_mad(history.amount_counts, history.amounts_between(first, day), accounts, first, day)
        per_day.append(todays.join(stats, on=AMOUNT_KEYS).with_columns(pl.lit(first).alias("first_day")))
    if not per_day:
        return no_findings()
    modified_z = (pl.col("x") - pl.col("median")) / (1.4826 * pl.col("mad"))
    judged = pl.concat(per_day).with_columns(modified_z.alias("z"))
    hit = judged.filter(
        (pl.col("n") >= config.outlier_min_sample)
        & (pl.col("mad") >= config.outlier_min_mad)
        & (pl.col("z") > config.outlier_z)
    )
    side = pl.when(pl.col("net_dc") == "D").then(pl.lit("debits")).otherwise(pl.lit("credits"))
    evidence = (
        text.money(pl.col("base_net"))
        + pl.lit(" is ")
        + text.number(pl.col("z"), 1)
        + pl.lit(" robust standard deviations (log scale) above the median ")
        + text.money(pl.lit(10.0) ** pl.col("median"))
        + pl.lit(" of ")
        + text.count(pl.col("n"))
        + pl.lit(" ")
        + side
        + pl.lit(" to account ")
        + pl.col("net_account")
        + pl.lit(" ")
        + _window_text(pl.col("first_day"), pl.col("day"))
        + pl.lit(f" (flagged above {config.outlier_z})")
    )
    return findings(hit, "amount_outlier", evidence)


# --- who and how -----------------------------------------------------------------------------------


def self_approval(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Approved by the person who entered it: no segregation of duties on this entry."""
    approver = pl.col("approved_by")
    hit = pop.scored.filter(approver.is_not_null() & (approver == pl.col("created_by")))
    return findings(hit, "self_approval", pl.col("created_by") + pl.lit(" entered and approved it"))


def suspicious_keyword(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """A description with a red-flag word (config.keywords, whole words, any case)."""
    if not config.keywords:
        return no_findings()
    pattern = keyword_pattern(config.keywords)
    candidates = pop.scored.filter(may_contain_keyword(pl.col("description"), config.keywords))
    hit = candidates.with_columns(pl.col("description").str.extract(pattern, 1).alias("keyword")).filter(
        pl.col("keyword").is_not_null()
    )
    evidence = (
        pl.lit('description "')
        + pl.col("description")
        + pl.lit('" contains "')
        + pl.col("keyword").str.to_lowercase()
        + pl.lit('"')
    )
    return findings(hit, "suspicious_keyword", evidence)


def keyword_pattern(keywords: tuple[str, ...]) -> str:
    """One case-insensitive regex matching any keyword as whole words (longest first)."""
    alternatives = [r"\s+".join(re.escape(word) for word in keyword.split()) for keyword in keywords]
    return r"(?i)\b(" + "|".join(sorted(alternatives, key=len, reverse=True)) + r")\b"


# The only characters outside ASCII that a case-insensitive regex matches with an ASCII letter
# (long s and the Kelvin sign, by Unicode simple case folding).
_ASCII_LETTER_FOLDS = ["\u017f", "\u212a"]


def may_contain_keyword(description: pl.Expr, keywords: tuple[str, ...]) -> pl.Expr:
    """True for every description keyword_pattern can match (and a few more): it contains the
    longest word of a keyword in any ASCII case, or a character that folds to an ASCII letter.

    A substring search (Aho-Corasick) is cheap; the case-insensitive Unicode regex is not (half
    a second a day at the reference scale), so it only runs on these candidates."""
    anchors = [max(keyword.split(), key=len) for keyword in keywords if keyword.split()]
    if len(anchors) < len(keywords) or not all(anchor.isascii() for anchor in anchors):
        return pl.lit(True)
    return description.str.contains_any(anchors, ascii_case_insensitive=True) | description.str.contains_any(
        _ASCII_LETTER_FOLDS
    )


def manual_entry(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Keyed by hand in a source system whose entries are otherwise automatic.

    "Otherwise automatic" is measured, not assumed: in the company's entries of that source
    system over the scored day and the history_days before it, at most manual_max_share were
    manual (a bank feed or a payroll interface), once there are manual_min_population of them.
    A general journal, where people key most entries, never qualifies."""
    keys = ["company_id", "source_system"]
    daily = pop.history.sources
    manual = pop.scored.filter(pl.col("manual") & pl.col("source_system").is_not_null())
    targets = manual.select("txn_id", *keys, "day")
    shares = window_totals(daily, keys, ["entries", "manual_entries"], targets, config.history_days)
    share = pl.col("manual_entries") / pl.col("entries")
    judged = pl.col("entries") >= config.manual_min_population
    hit = shares.filter(judged & (share <= config.manual_max_share))
    evidence = (
        pl.lit("keyed by hand in ")
        + pl.col("source_system")
        + pl.lit(", where ")
        + text.count(pl.col("manual_entries"))
        + pl.lit(" of ")
        + text.count(pl.col("entries"))
        + pl.lit(" entries (")
        + text.percent(share, 2)
        + pl.lit(") ")
        + _window_text(pl.col("day") - pl.duration(days=config.history_days), pl.col("day"))
        + pl.lit(" were manual")
    )
    return findings(hit, "manual_entry", evidence)


def unusual_poster(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """A person keying an account that other people key routinely but they hardly ever do: over
    the scored day and the history_days before it, the account had at least
    unusual_poster_min_entries manual entries, of which this poster keyed at most
    unusual_poster_max_share.

    Someone working outside their usual area (an AR clerk keying a purchase invoice, a payroll
    officer a journal) is a classic sign of access beyond one's role. Judged among manual
    entries only: an interface posts wherever its feed says, and comparing a person with it
    would make every person look unusual. A share, not "never before": a history that starts
    on a given day would otherwise make everyone's first entry unusual, a second entry outside
    one's role is no less unusual than the first, and a share means the same at any volume.
    """
    keys = ["company_id", "net_account"]
    per_poster = pop.history.posters
    per_account = per_poster.group_by(*keys, "day").agg(pl.col("by_poster").sum().alias("account_entries"))
    targets = pop.scored.filter(pl.col("manual") & pl.col("created_by").is_not_null()).select(
        "txn_id", *keys, "created_by", "day"
    )
    judged = window_totals(per_poster, [*keys, "created_by"], ["by_poster"], targets, config.history_days)
    judged = window_totals(per_account, keys, ["account_entries"], judged, config.history_days)
    share = pl.col("by_poster") / pl.col("account_entries")
    established = pl.col("account_entries") >= config.unusual_poster_min_entries
    hit = judged.filter(established & (share <= config.unusual_poster_max_share))
    evidence = (
        pl.col("created_by")
        + pl.lit(" keyed ")
        + text.count(pl.col("by_poster"))
        + pl.lit(" of the ")
        + text.count(pl.col("account_entries"))
        + pl.lit(" manual entries to account ")
        + pl.col("net_account")
        + pl.lit(" of company ")
        + pl.col("company_id").cast(pl.String)
        + pl.lit(" (")
        + text.percent(share, 2)
        + pl.lit(") ")
        + _window_text(pl.col("day") - pl.duration(days=config.history_days), pl.col("day"))
    )
    return findings(hit, "unusual_poster", evidence)


# --- accounts ---------------------------------------------------------------------------------------


def suspense_posting(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Posts to a suspense account (accounts.is_suspense): a clearing place where items wait to
    be explained, and where a misstatement can wait unexplained."""
    hit = pop.scored.filter(pl.col("net_suspense") | pl.col("contra_suspense"))
    account = pl.when(pl.col("net_suspense")).then(pl.col("net_account")).otherwise(pl.col("contra_account"))
    role = pl.when(pl.col("net_suspense")).then(pl.lit("net")).otherwise(pl.lit("contra"))
    return findings(
        hit,
        "suspense_posting",
        pl.lit("posts to suspense account ") + account + pl.lit(" (") + role + pl.lit(" side)"),
    )


def _account_usage(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Per scored entry, how many of the company's entries used its net account, its contra
    account and the pair, and how many entries the company had, over the scored day and the
    history_days before it."""
    return pop.shared(("account_usage", config.history_days), lambda: _usage(pop, config))


def _usage(pop: Population, config: FraudConfig) -> pl.DataFrame:
    per_pair = pop.history.pairs  # entries with a contra account, per pair and day
    per_company = per_pair.group_by("company_id", "day").agg(pl.col("pair_uses").sum().alias("company_entries"))
    # an entry uses its net and its contra account, once when they are the same account
    uses = pl.concat(
        [
            per_pair.select("company_id", pl.col("net_account").alias("account"), "day", "pair_uses"),
            per_pair.filter(pl.col("contra_account") != pl.col("net_account")).select(
                "company_id", pl.col("contra_account").alias("account"), "day", "pair_uses"
            ),
        ]
    )
    per_account = uses.group_by("company_id", "account", "day").agg(pl.col("pair_uses").sum().alias("uses"))
    pair = ["company_id", "net_account", "contra_account"]
    scored = pop.scored.filter(pl.col("contra_account").is_not_null()).select("txn_id", *pair, "day")
    days = config.history_days
    usage = window_totals(per_company, ["company_id"], ["company_entries"], scored.select(*pair, "day").unique(), days)
    for role in ("net", "contra"):
        usage = window_totals(
            per_account.rename({"account": f"{role}_account", "uses": f"{role}_uses"}),
            ["company_id", f"{role}_account"],
            [f"{role}_uses"],
            usage,
            days,
        )
    usage = window_totals(per_pair, pair, ["pair_uses"], usage, days)
    return scored.join(usage, on=[*pair, "day"], nulls_equal=True, maintain_order="left")


def _rare(uses: pl.Expr, total: pl.Expr, config: FraudConfig) -> pl.Expr:
    return (total >= config.rare_min_population) & (uses.cast(pl.Float64) <= config.rare_max_share * total)


def rare_account(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Posts to an account that at most rare_max_share of the company's entries used over the
    scored day and the history_days before it (the entry itself included): donations, fines,
    settlements and other accounts outside the daily business, where unusual items hide."""
    usage = _account_usage(pop, config)
    total = pl.col("company_entries")
    net_rare, contra_rare = (
        _rare(pl.col("net_uses"), total, config),
        _rare(pl.col("contra_uses"), total, config),
    )
    hit = (
        usage.filter(net_rare | contra_rare)
        .with_columns(
            pl.when(net_rare & (~contra_rare | (pl.col("net_uses") <= pl.col("contra_uses"))))
            .then(pl.struct(account=pl.col("net_account"), uses=pl.col("net_uses")))
            .otherwise(pl.struct(account=pl.col("contra_account"), uses=pl.col("contra_uses")))
            .alias("rare")
        )
        .unnest("rare")
    )
    evidence = (
        pl.lit("account ")
        + pl.col("account")
        + pl.lit(" was used by ")
        + text.count(pl.col("uses"))
        + pl.lit(" of ")
        + text.count(total)
        + pl.lit(" entries of company ")
        + pl.col("company_id").cast(pl.String)
        + pl.lit(" (")
        + text.percent(pl.col("uses") / total, 3)
        + pl.lit(") ")
        + _window_text(pl.col("day") - pl.duration(days=config.history_days), pl.col("day"))
    )
    return findings(hit, "rare_account", evidence)


def rare_account_pair(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Net and contra accounts that are each in common use but rarely together (at most
    rare_max_share of the company's entries): an unusual combination such as sales posted
    straight to the bank, bypassing the debtors ledger."""
    usage = _account_usage(pop, config)
    total = pl.col("company_entries")
    hit = usage.filter(
        _rare(pl.col("pair_uses"), total, config)
        & ~_rare(pl.col("net_uses"), total, config)
        & ~_rare(pl.col("contra_uses"), total, config)
    )
    evidence = (
        pl.lit("accounts ")
        + pl.col("net_account")
        + pl.lit(" / ")
        + pl.col("contra_account")
        + pl.lit(" were used together by ")
        + text.count(pl.col("pair_uses"))
        + pl.lit(" of ")
        + text.count(total)
        + pl.lit(" entries of company ")
        + pl.col("company_id").cast(pl.String)
        + pl.lit(" (")
        + text.percent(pl.col("pair_uses") / total, 3)
        + pl.lit("), though ")
        + pl.col("net_account")
        + pl.lit(" was used by ")
        + text.count(pl.col("net_uses"))
        + pl.lit(" and ")
        + pl.col("contra_account")
        + pl.lit(" by ")
        + text.count(pl.col("contra_uses"))
        + pl.lit(", ")
        + _window_text(pl.col("day") - pl.duration(days=config.history_days), pl.col("day"))
    )
    return findings(hit, "rare_account_pair", evidence)


# --- when -------------------------------------------------------------------------------------------

_WEEKDAYS = {
    1: "Monday",
    2: "Tuesday",
    3: "Wednesday",
    4: "Thursday",
    5: "Friday",
    6: "Saturday",
    7: "Sunday",
}


def _local_time_text() -> pl.Expr:
    return pl.col("local_at").dt.strftime("%Y-%m-%d %H:%M") + pl.lit(" local time")


def after_hours(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Keyed by hand outside business hours on the company's wall clock. Interfaces run batches
    at any hour by design, so only manual entries (entry_mode 'manual') are judged."""
    hour = pl.col("local_at").dt.hour()
    hit = pop.scored.filter(
        pl.col("manual")
        & pl.col("local_at").is_not_null()
        & ((hour < config.business_hours_start) | (hour >= config.business_hours_end))
    )
    hours = f"{config.business_hours_start:02d}:00-{config.business_hours_end:02d}:00"
    evidence = pl.lit("keyed by hand at ") + _local_time_text() + pl.lit(f", outside {hours}")
    return findings(hit, "after_hours", evidence)


def weekend_entry(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Keyed by hand on a Saturday or Sunday in the company's time zone (manual entries only:
    bank feeds and other interfaces post at weekends as a matter of course)."""
    hit = pop.scored.filter(
        pl.col("manual") & pl.col("local_at").is_not_null() & (pl.col("local_at").dt.weekday() >= 6)
    )
    weekday = pl.col("local_at").dt.weekday().replace_strict(_WEEKDAYS, return_dtype=pl.String)
    evidence = pl.lit("keyed by hand on ") + weekday + pl.lit(" ") + _local_time_text()
    return findings(hit, "weekend_entry", evidence)


def holiday_entry(pop: Population, config: FraudConfig) -> pl.DataFrame:
    """Keyed by hand on a public holiday of the company's country (journal_pipeline.domain.holidays,
    the country following from the company's time zone), in the company's time zone."""
    hit = pop.scored.filter(pl.col("manual") & pl.col("holiday").is_not_null())
    return findings(
        hit,
        "holiday_entry",
        pl.lit("keyed by hand on ") + pl.col("holiday") + pl.lit(", ") + _local_time_text(),
    )


ALL_TESTS: dict[str, Test] = {
    "duplicate": duplicate,
    "near_duplicate": near_duplicate,
    "split_transaction": split_transaction,
    "just_below_limit": just_below_limit,
    "self_approval": self_approval,
    "suspicious_keyword": suspicious_keyword,
    "suspense_posting": suspense_posting,
    "amount_outlier": amount_outlier,
    "rare_account": rare_account,
    "rare_account_pair": rare_account_pair,
    "unusual_poster": unusual_poster,
    "manual_entry": manual_entry,
    "after_hours": after_hours,
    "weekend_entry": weekend_entry,
    "holiday_entry": holiday_entry,
    "round_amount": round_amount,
}
