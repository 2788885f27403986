"""Every weight and threshold of the fraud score, in one frozen, documented configuration.

:class:`FraudConfig` is what the pure functions read; the Dagster asset builds it from its run
config (:class:`journal_pipeline.defs.assets.fraud.FraudScoringConfig`, same field names and
defaults). :func:`model_version` names the model and a short hash of the configuration, so that
every row of ``ledger.fraud_scores`` says which weights and thresholds produced it, and a change
of any of them is visible in the table.

How the score is made (journal_pipeline.fraud.score): each test that fires on a transaction
contributes ``weight * strength`` (strength in 0..1, usually 1), and the contributions combine as
independent pieces of evidence ("noisy-OR"):

    risk_score = 1 - prod(1 - weight_i * strength_i)

so the score stays in 0..1, one strong reason is enough for a high score, several weak ones add
up, and every point of the score is explained by a listed reason. A weight therefore reads as "how
likely, on its own, that this red flag points at an entry an auditor must look at".

Why the default weights are what they are (ISA 240 / AS 2401 journal-entry testing):

- the highest weights go to what is hard to explain innocently: an exact re-entry of a document
  (a double payment), a split that keeps each part under an approval limit, an entry just below
  the poster's own limit, a poster approving their own entry (no segregation of duties);
- suspicious wording, postings to suspense accounts and amounts far outside an account's history
  come next: each is a classic management-override indicator;
- time-of-entry tests (weekend, holiday, after hours), manual entries in automated systems,
  round amounts and unusual accounts or posters are weaker: ordinary work sometimes looks so;
- Benford's law judges a group (a company, a poster), not one entry: a nonconforming group
  raises each of its entries a little, so that a fabricating poster's entries rise as a whole
  without any single one outranking a transaction with its own red flag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

MODEL_NAME = "jet"
MODEL_RELEASE = "1.0"

# How many days before a scored day the asset reads (the partition mapping's reach). Every
# look-back of the configuration must fit in it; 28 days is four whole weeks, so a window holds
# every weekday equally often. It costs little: of these days the asset reads the per-day counts
# journal_lines stored (thousands of rows a day) and only the entries that share a scored entry's
# document or purchase key (journal_pipeline.fraud.population), so time and memory follow the
# scored days' transactions. Measured (2 shared cores): one day of 124,000 transactions scores
# in 0.5 s at 0.3 GB peak, one of 1.42 million in 3.9 s at 1.3 GB, and a seven-day backfill run
# of 776,000 in 2.2 s at 0.8 GB (journal_pipeline.fraud.bench; writing the scores comes on top).
HISTORY_DAYS = 28

# The tests, in the order their reasons are listed, with what each one means.
TESTS: dict[str, str] = {
    "duplicate": "the same document (counterparty, amount, currency, document_ref) entered again",
    "near_duplicate": "same counterparty and amount with a variant of the document_ref",
    "split_transaction": "one poster's similar entries for one counterparty, together over their limit",
    "just_below_limit": "gross amount just below the poster's approval limit",
    "self_approval": "approved by the person who entered it",
    "suspicious_keyword": "description contains a red-flag word",
    "suspense_posting": "posts to a suspense account",
    "amount_outlier": "amount far above the account's usual amounts (robust z-score of log amounts)",
    "rare_account": "posts to an account the company hardly ever uses",
    "rare_account_pair": "an account combination the company hardly ever uses",
    "unusual_poster": "a person keying an account that others key routinely but they hardly ever do",
    "manual_entry": "keyed by hand in a source system whose entries are otherwise automatic",
    "after_hours": "keyed by hand outside business hours (company time zone)",
    "weekend_entry": "keyed by hand on a Saturday or Sunday (company time zone)",
    "holiday_entry": "keyed by hand on a public holiday of the company's country",
    "round_amount": "a round amount (a multiple of 1,000 in the currency's everyday scale)",
    "benford_first_digit": "the poster's or company's first digits do not follow Benford's law",
    "benford_first_two_digits": "the poster's or company's first two digits do not follow Benford's law",
    "benford_last_two_digits": "the poster's or company's last two digits are not uniform",
}

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "duplicate": 0.9,
        "near_duplicate": 0.8,
        "split_transaction": 0.8,
        "just_below_limit": 0.75,
        "self_approval": 0.8,
        "suspicious_keyword": 0.7,
        "suspense_posting": 0.6,
        "amount_outlier": 0.6,
        "rare_account": 0.5,
        "rare_account_pair": 0.5,
        "unusual_poster": 0.5,
        "manual_entry": 0.5,
        "after_hours": 0.5,
        "weekend_entry": 0.5,
        "holiday_entry": 0.5,
        "round_amount": 0.45,
        "benford_first_digit": 0.2,
        "benford_first_two_digits": 0.2,
        "benford_last_two_digits": 0.15,
    }
)

# Red-flag words of journal-entry testing guides (management override, pressure, concealment).
# Whole words, case-insensitive; a phrase matches with any white space between its words.
# Deliberately absent: "correction", "reclass", "accrual", "bonus": ordinary month-end work.
DEFAULT_KEYWORDS: tuple[str, ...] = (
    "adjust", "adjustment", "adjusting", "reversal", "reverse", "plug", "write off", "write-off", "writeoff",
    "override", "per ceo", "per cfo", "per md", "as instructed", "do not query", "do not discuss",
    "confidential", "urgent", "misc", "miscellaneous", "bypass", "top side", "topside", "suspense",
)  # fmt: skip

# Everyday scale of a currency: a round sum is 1,000 x this many units. A thousand yen or rupees is
# small change, a thousand dollars is not; the scale is the power of ten closest to the currency's
# units per US dollar, for currencies where it is 10 or more (the rest use 1).
CURRENCY_SCALE: Mapping[str, int] = MappingProxyType(
    {
        "JPY": 100, "INR": 100, "KRW": 1000, "HUF": 100, "ISK": 100, "RUB": 100, "PHP": 10, "THB": 10,
        "TWD": 10, "CZK": 10, "MXN": 10, "ZAR": 10, "SEK": 10, "NOK": 10, "DKK": 10, "HKD": 10, "CNY": 10,
        "TRY": 10, "EGP": 10, "ARS": 1000, "NGN": 1000, "KZT": 100, "IDR": 10_000, "VND": 10_000,
        "CLP": 1000, "COP": 1000, "PKR": 100, "UAH": 10,
    }
)  # fmt: skip

# ISO 4217 minor units where they are not 2 (for the last-two-digits test: the last two digits of
# the amount in its smallest everyday unit: cents, whole yen, fils).
CURRENCY_DECIMALS: Mapping[str, int] = MappingProxyType(
    {
        "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        "BIF": 0, "DJF": 0, "GNF": 0, "KMF": 0, "RWF": 0, "VUV": 0,
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    }
)  # fmt: skip


@dataclass(frozen=True)
class BenfordBands:
    """Upper bounds of the MAD (mean absolute deviation) for each conformity level."""

    close: float
    acceptable: float
    marginal: float  # above this: nonconformity


# Nigrini (2012), Benford's Law: Applications for Forensic Accounting, Auditing, and Fraud
# Detection (Wiley): MAD critical values for the first-digit and first-two-digits tests.
FIRST_DIGIT_BANDS = BenfordBands(close=0.006, acceptable=0.012, marginal=0.015)
FIRST_TWO_DIGITS_BANDS = BenfordBands(close=0.0012, acceptable=0.0018, marginal=0.0022)
# Nigrini gives no MAD bands for the last-two-digits test (expected: uniform, 1 % per pair). It
# has 100 bins of about the same expected share as the 90 of the first-two-digits test, so the
# MAD of a conforming sample behaves the same way; we use the first-two-digits bands.
LAST_TWO_DIGITS_BANDS = FIRST_TWO_DIGITS_BANDS


@dataclass(frozen=True)
class FraudConfig:
    """The model's parameters. Defaults are documented field by field; change them through the
    asset's run config, never in code that scores (the model_version would not show it)."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    # duplicate / near_duplicate: how far back a matching entry counts. The seed's re-entries come
    # within 4 business days; accounts-payable reviews look back weeks, and a match needs the same
    # company, counterparty, currency, amount to the cent and the same (or a variant) document_ref,
    # so a long look-back adds almost no false matches.
    duplicate_days: int = 14

    # round_amount: a multiple of round_amount_units x CURRENCY_SCALE units (1,000 dollars, 100,000 yen).
    round_amount_units: int = 1000

    # just_below_limit: gross base amount in [limit * (1 - band), limit) of the poster's limit.
    # 5 % is "just below": 9,500.00-9,999.99 under a 10,000.00 limit.
    just_below_band: float = 0.05

    # split_transaction: entries of one poster for one counterparty (with split_same_description,
    # for the same goods: the same description) within split_days (the scored day and the days
    # before it: three business days across a weekend), each between split_min_share of the
    # poster's limit and the limit, within split_similarity of each other's amount, together above
    # the limit, and at least split_min_part_share of what the poster keyed for that counterparty
    # and description in those days. One purchase cut into pieces is one description and one price
    # cut evenly; a clerk's routine invoices from a busy vendor are neither.
    split_days: int = 5
    split_min_share: float = 0.5
    split_similarity: float = 0.05
    split_same_description: bool = True
    split_min_part_share: float = 0.5

    # after_hours: manual entries before business_hours_start or from business_hours_end (local).
    business_hours_start: int = 7
    business_hours_end: int = 20

    # manual_entry: manual entries are unusual in a (company, source system) where at most this
    # share of the last history_days were manual, judged once it has manual_min_population entries.
    manual_max_share: float = 0.01
    manual_min_population: int = 200

    # rare_account / rare_account_pair: used by at most rare_max_share of the company's entries in
    # the last history_days (0.1 %: about 56 of a month's 56,000), judged once the company has
    # rare_min_population entries in that window.
    rare_max_share: float = 0.001
    rare_min_population: int = 1000

    # unusual_poster: among an account's manual entries over the scored day and the history_days
    # before it (at least unusual_poster_min_entries of them), the poster keyed at most
    # unusual_poster_max_share. A team's members each key several percent of their accounts'
    # entries (in the seeded data at least 4.5 %); one in fifty or less singles out someone from
    # outside the team, however many entries the account has.
    unusual_poster_min_entries: int = 30
    unusual_poster_max_share: float = 0.02

    # amount_outlier: robust z-score of log10(base net amount) against the same account and side
    # over history_days: (x - median) / (1.4826 * MAD). 3.5 is Iglewicz and Hoaglin's cut-off for
    # the modified z-score; at least outlier_min_sample amounts; a MAD below outlier_min_mad
    # (amounts that never vary, such as a fixed rent) is not a basis for a z-score.
    outlier_z: float = 3.5
    outlier_min_sample: int = 30
    outlier_min_mad: float = 0.01

    # suspicious_keyword: whole words or phrases, case-insensitive.
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS

    # The reference population of the rare, unusual-poster, manual and outlier tests: the scored
    # day and the history_days before it.
    history_days: int = HISTORY_DAYS

    # Benford: per company and per poster, over the scored day and the benford_window_days - 1
    # days before it; a group is judged once it has the test's minimum sample.
    #
    # A group is nonconforming when its MAD is above Nigrini's nonconformity bound AND above
    # benford_noise_margin x the MAD that sampling alone gives a conforming group of the same
    # size, E[MAD] = mean_k sqrt(2 p_k (1 - p_k) / (pi n)). Nigrini's fixed bands assume large
    # samples: at n = 1,000 a perfectly Benford sample has first-two-digits E[MAD] = 0.0025,
    # above the 0.0022 bound, and at n = 300 a first-digit E[MAD] of 0.0136, close to 0.015.
    # Simulated conforming samples (20,000 per size, n = 50..300) stay below 2.2 x E[MAD] (first
    # digit) and 1.3 x E[MAD] (first two, last two digits) in 99.99 % of cases; the margins 2.5 and
    # 1.4 add room for real amounts that follow the law only approximately (in the seeded month
    # no ordinary poster exceeds 2.0 and 1.24; the fabricating posters reach 3.2 and 1.4 from 40
    # amounts on, and 7.5 and 2.5 over the month).
    #
    # Minimum samples: Nigrini recommends about 1,000 records for the first-two-digits test (90
    # bins) and fewer, about 300, for the first-digit test (9 bins), because below that his bands
    # flag conforming samples. The size-aware bound above removes that reason, so the minimums
    # here only keep groups too small to show anything out of judgement: 50 amounts for the
    # first digit (judged only on a gross deviation, MAD above 2.5 x 0.033 = 0.083, which a
    # conforming sample of 50 shows less than once in 10,000 draws) and 300 for the 90- and
    # 100-bin tests (fewer than 3 amounts per bin say nothing about a single bin). A poster keying
    # ten entries a day is judged within a week instead of after a month (300) or never (1,000).
    benford_window_days: int = HISTORY_DAYS
    benford_min_first_digit: int = 50
    benford_min_first_two_digits: int = 300
    benford_min_last_two_digits: int = 300
    benford_noise_margin_first_digit: float = 2.5
    benford_noise_margin_two_digits: float = 1.4

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(TESTS))
        if unknown:
            raise ValueError(f"weights name unknown tests {unknown}; known: {', '.join(TESTS)}")
        bad = {name: w for name, w in self.weights.items() if not 0.0 <= float(w) <= 1.0}
        if bad:
            raise ValueError(f"weights must be between 0 and 1: {bad}")
        object.__setattr__(self, "weights", MappingProxyType({**DEFAULT_WEIGHTS, **self.weights}))
        object.__setattr__(self, "keywords", tuple(self.keywords))
        for name in ("duplicate_days", "split_days", "history_days", "benford_window_days"):
            days = getattr(self, name)
            if not 1 <= days <= HISTORY_DAYS + 1:
                raise ValueError(
                    f"{name} = {days}: look-backs must be 1..{HISTORY_DAYS + 1} days (the asset reads "
                    f"{HISTORY_DAYS} days of history; raise HISTORY_DAYS to look further)"
                )
        if not 0 <= self.business_hours_start < self.business_hours_end <= 24:
            raise ValueError(
                f"business hours {self.business_hours_start}-{self.business_hours_end} must satisfy "
                "0 <= start < end <= 24"
            )

    def weight(self, test: str) -> float:
        return float(self.weights[test])

    def as_dict(self) -> dict[str, object]:
        """Every parameter as plain JSON-able values, weights sorted: what model_version hashes."""
        values: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        values["weights"] = dict(sorted(self.weights.items()))
        values["keywords"] = list(self.keywords)
        return values


def model_version(config: FraudConfig) -> str:
    """``jet-1.0+<8 hex digits>``: the release and a hash of every parameter, so that rows scored
    with other weights or thresholds never look as if the same model made them."""
    canonical = json.dumps(config.as_dict(), sort_keys=True, separators=(",", ":"))
    return f"{MODEL_NAME}-{MODEL_RELEASE}+{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"
