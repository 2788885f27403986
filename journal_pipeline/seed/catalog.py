"""Static facts the synthetic data is built from: currencies, legal entities, transaction types.

Nothing here is random. :mod:`journal_pipeline.seed.reference` draws a group's chart of
accounts, users and counterparties from these lists with the run's seed, and
:mod:`journal_pipeline.seed.transactions` draws transactions according to the
:data:`TXN_TYPES` table, which is the one place to read (or change) the transaction mix: how
often each type occurs, its posting rule, how much of it is keyed by hand, its typical amount.

Amounts are described in "reference units" (roughly US dollars) and converted into each
currency with its nominal value, so that a Tokyo company's invoices are about 150 times larger
in yen than a New York company's in dollars, as in real life.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# --- currencies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Currency:
    """An ISO 4217 currency; ``usd_value`` is its nominal value, the centre of the FX random walk."""

    code: str
    usd_value: float
    decimals: int  # minor units in everyday use: 0 for JPY (whole yen), 2 otherwise
    rated: bool = True  # False: deliberately absent from fx_rates (the "no_rate" invalid rows)

    @property
    def limit_scale(self) -> int:
        """Power of ten that makes approval limits look native: 100 for JPY/INR, 10 for SEK, 1 for GBP."""
        return 10 ** max(0, round(math.log10(1.0 / self.usd_value)))


CURRENCIES: tuple[Currency, ...] = (
    Currency("GBP", 1.27, 2),
    Currency("USD", 1.0, 2),
    Currency("EUR", 1.08, 2),
    Currency("JPY", 0.0067, 0),
    Currency("SGD", 0.74, 2),
    Currency("CHF", 1.12, 2),
    Currency("AUD", 0.66, 2),
    Currency("CAD", 0.73, 2),
    Currency("SEK", 0.095, 2),
    Currency("HKD", 0.128, 2),
    Currency("NOK", 0.093, 2),
    Currency("INR", 0.012, 2),
    Currency("NZD", 0.60, 2),
    Currency("DKK", 0.145, 2),
    Currency("ZAR", 0.054, 2),
    # Real currencies this group never gets rates for: a transaction in one cannot be posted.
    Currency("TRY", 0.031, 2, rated=False),
    Currency("ARS", 0.0011, 2, rated=False),
    Currency("NGN", 0.00066, 2, rated=False),
    Currency("KZT", 0.0022, 2, rated=False),
    Currency("EGP", 0.021, 2, rated=False),
)
CURRENCY_INDEX: dict[str, int] = {c.code: i for i, c in enumerate(CURRENCIES)}

# Which foreign currency a foreign-currency document is in (the company's own base is skipped).
FOREIGN_CURRENCY_WEIGHTS: dict[str, float] = {
    "USD": 34,
    "EUR": 30,
    "GBP": 14,
    "JPY": 4,
    "CHF": 3,
    "CAD": 3,
    "AUD": 3,
    "SGD": 2,
    "SEK": 2,
    "HKD": 1,
    "NOK": 1,
    "DKK": 1,
    "INR": 1,
    "NZD": 0.5,
    "ZAR": 0.5,
}

# --- legal entities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyTemplate:
    """One legal entity of the group: name, base currency, IANA zone, indirect tax and local institutions."""

    name: str
    base_currency: str
    timezone: str
    tax_name: str  # VAT, GST, sales tax, ...
    tax_rate_e5: int  # standard rate in 1/100,000: 20000 is 20 %
    banks: tuple[str, str, str]
    tax_authority: str
    pension_provider: str
    legal_suffixes: tuple[str, ...]  # of the local counterparties' names
    purchase_tax: bool = True  # input tax is recoverable: purchase rules carry a tax account
    sales_tax: bool = True  # output tax is charged: sales rules carry a tax account


# fmt: off
COMPANY_TEMPLATES: tuple[CompanyTemplate, ...] = (
    CompanyTemplate("Northwind Trading Ltd", "GBP", "Europe/London", "VAT", 20000,
                    ("Barclays Bank plc", "HSBC UK Bank plc", "Lloyds Bank plc"), "HM Revenue & Customs",
                    "Legal & General Workplace Pensions", ("Ltd", "Ltd", "plc", "LLP")),
    CompanyTemplate("Northwind Inc.", "USD", "America/New_York", "sales tax", 8875,
                    ("JPMorgan Chase Bank, N.A.", "Bank of America, N.A.", "Wells Fargo Bank, N.A."),
                    "Internal Revenue Service", "Fidelity 401(k) Plan", ("Inc.", "LLC", "Corp.", "Co."),
                    purchase_tax=False),
    CompanyTemplate("Northwind GmbH", "EUR", "Europe/Berlin", "USt", 19000,
                    ("Deutsche Bank AG", "Commerzbank AG", "Sparkasse KölnBonn"), "Finanzamt Frankfurt am Main",
                    "Allianz Pensionskasse AG", ("GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG")),
    CompanyTemplate("Northwind Japan K.K.", "JPY", "Asia/Tokyo", "consumption tax", 10000,
                    ("MUFG Bank, Ltd.", "Sumitomo Mitsui Banking Corporation", "Mizuho Bank, Ltd."),
                    "National Tax Agency", "Japan Pension Service", ("K.K.", "Co., Ltd.", "G.K.")),
    CompanyTemplate("Northwind Asia Pte Ltd", "SGD", "Asia/Singapore", "GST", 9000,
                    ("DBS Bank Ltd", "OCBC Bank", "United Overseas Bank"), "Inland Revenue Authority of Singapore",
                    "Central Provident Fund Board", ("Pte Ltd", "Pte. Ltd.", "Ltd")),
    CompanyTemplate("Northwind Schweiz AG", "CHF", "Europe/Zurich", "MWST", 8100,
                    ("UBS Switzerland AG", "Zürcher Kantonalbank", "PostFinance AG"), "Kantonales Steueramt Zürich",
                    "Swiss Life Pensionskasse", ("AG", "GmbH", "SA", "Sàrl")),
    CompanyTemplate("Northwind France SAS", "EUR", "Europe/Paris", "TVA", 20000,
                    ("BNP Paribas", "Société Générale", "Crédit Agricole"), "Direction générale des Finances publiques",
                    "AG2R La Mondiale", ("SAS", "SARL", "SA", "SASU")),
    CompanyTemplate("Northwind Australia Pty Ltd", "AUD", "Australia/Sydney", "GST", 10000,
                    ("Commonwealth Bank of Australia", "Westpac Banking Corporation", "ANZ Banking Group"),
                    "Australian Taxation Office", "AustralianSuper", ("Pty Ltd", "Pty. Limited", "Ltd")),
    CompanyTemplate("Northwind Canada Ltd.", "CAD", "America/Toronto", "HST", 13000,
                    ("Royal Bank of Canada", "TD Canada Trust", "Scotiabank"), "Canada Revenue Agency",
                    "Sun Life Group Retirement Services", ("Inc.", "Ltd.", "Corp.")),
    CompanyTemplate("Northwind Benelux B.V.", "EUR", "Europe/Amsterdam", "BTW", 21000,
                    ("ING Bank N.V.", "ABN AMRO Bank N.V.", "Rabobank"), "Belastingdienst", "Pensioenfonds PFZW",
                    ("B.V.", "B.V.", "N.V.", "V.O.F.")),
    CompanyTemplate("Northwind Sverige AB", "SEK", "Europe/Stockholm", "moms", 25000,
                    ("SEB", "Handelsbanken", "Swedbank"), "Skatteverket", "Alecta", ("AB", "AB", "HB")),
    CompanyTemplate("Northwind Hong Kong Limited", "HKD", "Asia/Hong_Kong", "none", 0,
                    ("HSBC Hong Kong", "Bank of China (Hong Kong)", "Hang Seng Bank"), "Inland Revenue Department",
                    "HSBC MPF Trustee", ("Limited", "Co. Ltd", "Holdings Limited"),
                    purchase_tax=False, sales_tax=False),
    CompanyTemplate("Northwind West LLC", "USD", "America/Los_Angeles", "sales tax", 9500,
                    ("Wells Fargo Bank, N.A.", "U.S. Bank N.A.", "City National Bank"), "Internal Revenue Service",
                    "Vanguard 401(k) Plan", ("Inc.", "LLC", "Corp."), purchase_tax=False),
    CompanyTemplate("Northwind Ireland DAC", "EUR", "Europe/Dublin", "VAT", 23000,
                    ("AIB", "Bank of Ireland", "PTSB"), "Revenue Commissioners", "Irish Life Pensions",
                    ("Ltd", "DAC", "Teoranta")),
    CompanyTemplate("Northwind Norge AS", "NOK", "Europe/Oslo", "MVA", 25000,
                    ("DNB Bank ASA", "Nordea Bank Norge", "SpareBank 1"), "Skatteetaten", "Storebrand Pensjon",
                    ("AS", "AS", "ASA")),
    CompanyTemplate("Northwind India Pvt Ltd", "INR", "Asia/Kolkata", "GST", 18000,
                    ("State Bank of India", "HDFC Bank", "ICICI Bank"), "Income Tax Department",
                    "Employees' Provident Fund Organisation", ("Pvt Ltd", "Private Limited", "LLP")),
    CompanyTemplate("Northwind New Zealand Limited", "NZD", "Pacific/Auckland", "GST", 15000,
                    ("ANZ Bank New Zealand", "ASB Bank", "Bank of New Zealand"), "Inland Revenue",
                    "KiwiSaver Scheme", ("Limited", "Ltd")),
    CompanyTemplate("Northwind Danmark A/S", "DKK", "Europe/Copenhagen", "moms", 25000,
                    ("Danske Bank", "Nordea Danmark", "Jyske Bank"), "Skattestyrelsen", "PensionDanmark",
                    ("A/S", "ApS", "I/S")),
    CompanyTemplate("Northwind Iberia S.L.", "EUR", "Europe/Madrid", "IVA", 21000,
                    ("Banco Santander", "BBVA", "CaixaBank"), "Agencia Tributaria", "VidaCaixa",
                    ("S.L.", "S.A.", "S.L.U.")),
    CompanyTemplate("Northwind South Africa (Pty) Ltd", "ZAR", "Africa/Johannesburg", "VAT", 15000,
                    ("Standard Bank", "FirstRand Bank", "Absa Bank"), "South African Revenue Service",
                    "Old Mutual Pension Fund", ("(Pty) Ltd", "Ltd", "Inc.")),
)
# fmt: on
MAX_COMPANIES = len(COMPANY_TEMPLATES)

# --- users ----------------------------------------------------------------------------------------

SOURCE_SYSTEMS: tuple[str, ...] = ("AP", "AR", "CB", "PAY", "GJ")

# The interfaces that create automatic entries, shared by every company. They may not approve
# anything (approval_limit 0.00); their entries need no approval (approved_by NULL).
SERVICE_USERS: dict[str, str] = {
    "AP": "AP invoice interface (service account)",
    "AR": "AR billing interface (service account)",
    "CB": "Bank statement feed (service account)",
    "PAY": "Payroll interface (service account)",
    "GJ": "GL recurring journals (service account)",
}

# Human roles and the approval limits they get, in base-currency major units before
# Currency.limit_scale; None is unlimited. A limit is the largest gross amount the user may
# approve; every manual entry is approved by someone other than its poster whose limit covers it.
ROLE_LIMITS: dict[str, tuple[int | None, ...]] = {
    "controller": (None,),
    "finance_director": (None,),
    "gl": (25_000, 100_000),
    "ap": (5_000, 5_000, 10_000),
    "ar": (5_000, 10_000),
    "payroll": (25_000,),
}
ROLE_TITLES: dict[str, str] = {
    "controller": "financial controller",
    "finance_director": "finance director",
    "gl": "GL accountant",
    "ap": "AP clerk",
    "ar": "AR clerk",
    "payroll": "payroll officer",
}
APPROVER_MIN_LIMIT = 10_000  # users from this limit up (and unlimited ones) approve others' entries

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Aisha", "Alexander", "Amelia", "Ananya", "Andrea", "Arjun", "Astrid", "Ben", "Camille", "Carlos", "Chen",
    "Chloe", "Daniel", "Deepa", "Diego", "Elena", "Emily", "Emma", "Erik", "Fatima", "Felix", "Freya", "Gabriel",
    "Hana", "Hannah", "Haruto", "Ingrid", "Isabel", "Jack", "James", "Jonas", "Julia", "Kenji", "Khalid", "Laura",
    "Lars", "Leila", "Liam", "Lucas", "Lucy", "Maria", "Mateo", "Mei", "Mohammed", "Nadia", "Noah", "Nomvula",
    "Oliver", "Olivia", "Omar", "Pablo", "Priya", "Rahul", "Rebecca", "Ruth", "Sakura", "Samuel", "Sara",
    "Sebastian", "Sofia", "Sven", "Thabo", "Thomas", "Tomás", "Wei", "Yuki", "Zara", "Zoe",
)
LAST_NAMES: tuple[str, ...] = (
    "Ahmed", "Andersen", "Bauer", "Becker", "Bianchi", "Brown", "Castillo", "Chen", "Clarke", "Costa", "Dlamini",
    "Dubois", "Evans", "Fischer", "García", "Gupta", "Hansen", "Hughes", "Ito", "Jensen", "Johansson", "Kato",
    "Khan", "Kim", "Kowalski", "Larsen", "Lee", "Lindqvist", "López", "Martin", "Meyer", "Moreau", "Müller",
    "Murphy", "Nakamura", "Nguyen", "Nielsen", "Nkosi", "O'Brien", "Olsen", "Patel", "Petit", "Reddy", "Ríos",
    "Roberts", "Rossi", "Sato", "Schmidt", "Shah", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thompson",
    "van Dijk", "Walker", "Wang", "Watanabe", "Weber", "Williams", "Wilson", "Wong", "Yamamoto", "Zhang",
)
# fmt: on

# --- counterparties -------------------------------------------------------------------------------

# fmt: off
NAME_STEMS: tuple[str, ...] = (
    "Apex", "Harbour", "Northgate", "Bluewater", "Summit", "Crescent", "Pioneer", "Evergreen", "Keystone", "Redwood",
    "Silverline", "Atlas", "Beacon", "Cobalt", "Meridian", "Orchard", "Pinnacle", "Quantum", "Riverside", "Sterling",
    "Trident", "Vertex", "Westbrook", "Zenith", "Oakridge", "Granite", "Falcon", "Horizon", "Ironbridge", "Juniper",
    "Kestrel", "Lakeside", "Maple", "Nimbus", "Onyx", "Polaris", "Ridgeway", "Sapphire", "Thornbury", "Unity",
    "Vanguard", "Willow", "Ashford", "Brightwell", "Clearwater", "Dunmore", "Eastfield", "Fairview", "Glenwood",
    "Highland", "Ivory", "Jade", "Kingsway", "Larch", "Mosaic", "Newport", "Oldfield", "Parkside", "Queensway",
    "Rosewood",
)
VENDOR_TRADES: tuple[str, ...] = (
    "Logistics", "Office Supplies", "Packaging", "IT Services", "Consulting", "Engineering", "Facilities", "Print",
    "Freight", "Electrical", "Software", "Components", "Chemicals", "Catering", "Security", "Recruitment",
    "Marketing", "Telecom", "Energy", "Cleaning", "Tooling", "Metals", "Plastics", "Textiles", "Media",
)
CUSTOMER_TRADES: tuple[str, ...] = (
    "Retail", "Trading", "Manufacturing", "Healthcare", "Hotels", "Foods", "Construction", "Pharma", "Motors",
    "Electronics", "Holdings", "Distribution", "Outdoor", "Fashion", "Home", "Leisure", "Systems", "Labs", "Studios",
    "Group",
)
# fmt: on
# Names that exercise quoting and escaping downstream: an apostrophe, double quotes, a comma,
# an ampersand and non-ASCII letters. Each company gets them among its vendors and customers.
AWKWARD_VENDOR_NAMES: tuple[str, ...] = (
    "O'Neill Freight",
    'The "Blue Door" Café',
    "Smith, Jones & Partners",
    "Müller & Söhne",
    "Ørsted Façades",
)
AWKWARD_CUSTOMER_NAMES: tuple[str, ...] = (
    "D'Arcy Hotels",
    'Café "Le Zinc"',
    "Barnes, Webb & Co",
    "Société Générale de Négoce",
)
CHARITIES: tuple[str, ...] = (
    "Red Cross",
    "Médecins Sans Frontières",
    "Save the Children",
    "WWF",
    "Local Food Bank",
)

# Counterparty pools per company and how many each holds (see reference.build_reference).
POOL_SIZES: dict[str, int] = {
    "vendor": 120,
    "customer": 150,
    "employee": 60,
    "bank": 3,
    "payroll": 3,
    "internal": 1,
    "assets": 1,
    "charity": len(CHARITIES),
}  # "group" (the other companies of the group) is sized by the company count

# --- transaction types ----------------------------------------------------------------------------

# usage: "normal" types make up the everyday mix; "planted" ones have valid rules but are used only
# for planted anomalies (suspense postings, rarely used accounts and account pairs); "invalid"
# ones have rules that point at a missing or an inactive account; "no_rule" ones have no rule.


@dataclass(frozen=True)
class TxnType:
    """A sub-ledger transaction type, its posting rule and how it behaves in the synthetic data."""

    code: str
    source_system: str
    journal_type: str
    net_account: str
    net_side: str
    tax: str  # "purchase", "sales", "broken" (a tax account missing from the chart) or "" (none)
    contra_account: str
    usage: str
    weight: float = 0.0  # share of a business day's transactions (before normalisation)
    manual_share: float = 0.0  # share keyed by hand on business days
    foreign_share: float = 0.0  # share in a currency other than the base currency
    median: float = 1_000.0  # typical net amount in reference units
    sigma: float = 0.6  # spread of log10(amount): 0.6 is a factor of 4 either way
    month_end: float = 1.0  # weight multiplier on the last two business days of a month
    closed_days: bool = False  # whether its interface also runs on weekends and public holidays
    pool: str = "internal"  # counterparty pool
    pool_member: int = -1  # a fixed member of the pool (payroll types), -1 for a Zipf-like draw
    role: str = "gl"  # the human role that keys it by hand
    doc_prefix: str = "JNL"
    doc_per_counterparty: bool = False  # True: the counterparty's own numbering (vendor invoices)
    description: str = "month"  # "month": phrase and month; "counterparty": phrase and counterparty
    phrases: tuple[str, ...] = ()


# fmt: off
TXN_TYPES: tuple[TxnType, ...] = (
    # --- AP -----------------------------------------------------------------------------------------
    TxnType("PURCH_INV", "AP", "PI", "5000", "D", "purchase", "2000", "normal", weight=0.20, manual_share=0.35,
            foreign_share=0.08, median=1_200, sigma=0.75, closed_days=True, pool="vendor", role="ap",
            doc_prefix="INV", doc_per_counterparty=True, description="counterparty",
            phrases=("Office supplies", "Cloud hosting services", "Raw materials", "Freight and carriage",
                     "Consulting services", "Maintenance contract", "Packaging materials", "Software subscription",
                     "Printing and stationery", "Facilities management", "Contract labour", "Equipment hire",
                     "Marketing services", "Telecommunications", "Utilities", "Cleaning services",
                     "Security services", "Legal services", "Recruitment fees", "Training courses")),
    TxnType("PURCH_CRN", "AP", "PI", "5000", "C", "purchase", "2000", "normal", weight=0.02, manual_share=0.6,
            foreign_share=0.08, median=400, sigma=0.7, pool="vendor", role="ap", doc_prefix="CRN",
            doc_per_counterparty=True, description="counterparty",
            phrases=("Credit note – returned goods", "Credit note – pricing difference",
                     "Credit note – damaged delivery", "Credit note – volume rebate",
                     "Credit note – service credit")),
    TxnType("AP_PAYMENT", "AP", "PAY", "2000", "D", "", "1200", "normal", weight=0.10, foreign_share=0.08,
            median=4_000, sigma=0.8, pool="vendor", role="ap", doc_prefix="PAY", description="counterparty",
            phrases=("Supplier payment run", "Payment of supplier invoices", "Bank transfer to supplier",
                     "Wire transfer to supplier")),
    TxnType("EXPENSE_CLAIM", "AP", "PI", "6400", "D", "purchase", "2050", "normal", weight=0.04,
            manual_share=0.15, foreign_share=0.08, median=120, sigma=0.55, pool="employee", role="ap",
            doc_prefix="EXP", description="counterparty",
            phrases=("Travel expenses", "Client entertainment", "Mileage claim", "Hotel accommodation",
                     "Conference attendance", "Subsistence")),
    # --- AR -----------------------------------------------------------------------------------------
    TxnType("SALES_INV", "AR", "SI", "4000", "C", "sales", "1100", "normal", weight=0.22, manual_share=0.05,
            foreign_share=0.10, median=2_500, sigma=0.75, closed_days=True, pool="customer", role="ar",
            doc_prefix="SI", description="counterparty",
            phrases=("Product sales", "Subscription fees", "Professional services", "Support and maintenance",
                     "Licence fees", "Installation services", "Spare parts")),
    TxnType("SALES_CRN", "AR", "SI", "4000", "D", "sales", "1100", "normal", weight=0.02, manual_share=0.5,
            foreign_share=0.10, median=500, sigma=0.7, pool="customer", role="ar", doc_prefix="SCN",
            description="counterparty",
            phrases=("Credit note – returned goods", "Credit note – service level credit",
                     "Credit note – pricing correction")),
    TxnType("AR_RECEIPT", "AR", "REC", "1100", "C", "", "1200", "normal", weight=0.12, manual_share=0.10,
            foreign_share=0.10, median=3_500, sigma=0.8, closed_days=True, pool="customer", role="ar",
            doc_prefix="REC", description="counterparty",
            phrases=("Customer receipt", "Receipt – bank transfer", "Receipt – card settlement",
                     "Receipt – direct debit", "Lockbox receipt")),
    TxnType("BAD_DEBT", "AR", "GJ", "6600", "D", "", "1100", "normal", weight=0.003, manual_share=1.0,
            median=1_500, sigma=0.6, pool="customer", role="ar", doc_prefix="BD", description="counterparty",
            phrases=("Bad debt expense", "Irrecoverable debt – customer in liquidation")),
    # --- CB: bank feeds, always automatic -----------------------------------------------------------
    TxnType("BANK_FEE", "CB", "CB", "6500", "D", "", "1200", "normal", weight=0.05, median=20, sigma=0.5,
            closed_days=True, pool="bank", doc_prefix="BNK", doc_per_counterparty=True,
            phrases=("Account maintenance fee", "Transaction charges", "International payment fee",
                     "Card processing fees", "Overdraft arrangement fee")),
    TxnType("BANK_INTEREST", "CB", "CB", "4700", "C", "", "1220", "normal", weight=0.01, median=300, sigma=0.7,
            closed_days=True, pool="bank", doc_prefix="BNK", doc_per_counterparty=True,
            phrases=("Deposit interest", "Interest received")),
    TxnType("BANK_TRANSFER", "CB", "CB", "1220", "D", "", "1200", "normal", weight=0.02, median=50_000,
            sigma=0.6, closed_days=True, pool="bank", doc_prefix="TRF",
            phrases=("Sweep to deposit account", "Treasury transfer", "Cash pooling transfer")),
    TxnType("CARD_SPEND", "CB", "CB", "6410", "D", "purchase", "2400", "normal", weight=0.05,
            foreign_share=0.12, median=90, sigma=0.6, closed_days=True, pool="vendor", doc_prefix="CARD",
            phrases=("Corporate card – travel", "Corporate card – meals", "Corporate card – taxis",
                     "Corporate card – hotels", "Corporate card – software", "Corporate card – train tickets")),
    # --- PAY: payroll interface, always automatic ---------------------------------------------------
    TxnType("PAYROLL", "PAY", "PR", "6000", "D", "", "2300", "normal", weight=0.04, median=4_500, sigma=0.45,
            month_end=4.0, pool="payroll", pool_member=0, role="payroll", doc_prefix="PR",
            phrases=("Salaries – monthly payroll", "Salaries – weekly payroll", "Overtime", "Sales commission",
                     "Bonus payments")),
    TxnType("EMPLOYER_TAX", "PAY", "PR", "6010", "D", "", "2310", "normal", weight=0.02, median=900, sigma=0.5,
            month_end=4.0, pool="payroll", pool_member=1, role="payroll", doc_prefix="PR",
            phrases=("Employer social security contributions", "Employer payroll taxes")),
    TxnType("PENSION", "PAY", "PR", "6020", "D", "", "2320", "normal", weight=0.02, median=500, sigma=0.5,
            month_end=4.0, pool="payroll", pool_member=2, role="payroll", doc_prefix="PR",
            phrases=("Employer pension contributions", "Pension scheme contributions")),
    TxnType("PAYROLL_PAYMENT", "PAY", "PAY", "2300", "D", "", "1210", "normal", weight=0.01, median=60_000,
            sigma=0.5, month_end=4.0, pool="payroll", pool_member=0, role="payroll", doc_prefix="PRP",
            phrases=("Net pay transfer", "Payroll funding transfer")),
    # --- GJ -----------------------------------------------------------------------------------------
    TxnType("ACCRUAL", "GJ", "ACC", "6800", "D", "", "2100", "normal", weight=0.03, manual_share=0.8,
            median=8_000, sigma=0.7, month_end=3.0, pool="vendor", doc_prefix="ACC",
            phrases=("Accrued audit fees", "Accrued utilities", "Accrued consultancy", "Accrued rent",
                     "Accrued legal fees", "Accrued bonus", "Accrued freight costs",
                     "Goods received not invoiced")),
    TxnType("ACCRUAL_RELEASE", "GJ", "ACC", "6800", "C", "", "2100", "normal", weight=0.02, manual_share=0.5,
            median=6_000, sigma=0.7, pool="vendor", doc_prefix="ACR",
            phrases=("Release of accrued audit fees", "Release of accrued utilities",
                     "Release of accrued consultancy", "Release of accrued rent",
                     "Accrual released on invoice receipt")),
    TxnType("PREPAYMENT_RELEASE", "GJ", "GJ", "6100", "D", "", "1300", "normal", weight=0.02, manual_share=0.2,
            median=2_000, sigma=0.6, month_end=3.0, pool="vendor", doc_prefix="PPR",
            phrases=("Prepaid insurance amortisation", "Prepaid software amortisation", "Prepaid rent release",
                     "Prepaid maintenance amortisation")),
    TxnType("DEPRECIATION", "GJ", "GJ", "6700", "D", "", "1510", "normal", weight=0.02, median=3_000, sigma=0.6,
            month_end=4.0, pool="assets", doc_prefix="DEP",
            phrases=("Depreciation – computer equipment", "Depreciation – furniture and fittings",
                     "Depreciation – plant and machinery", "Depreciation – motor vehicles",
                     "Amortisation – software")),
    TxnType("MANUAL_JOURNAL", "GJ", "GJ", "6210", "D", "", "6900", "normal", weight=0.04, manual_share=1.0,
            median=5_000, sigma=0.8, pool="internal", doc_prefix="JNL",
            phrases=("Reclassification of marketing costs", "Cost centre reallocation", "Recharge of shared costs",
                     "Correction of coding error", "Allocation of IT costs", "Reclass to marketing")),
    TxnType("IC_RECHARGE", "GJ", "GJ", "4500", "C", "", "1150", "normal", weight=0.01, manual_share=0.7,
            foreign_share=0.3, median=25_000, sigma=0.6, month_end=3.0, pool="group", doc_prefix="ICR",
            description="counterparty",
            phrases=("Management fee recharge", "IT services recharge", "Shared services recharge",
                     "Group insurance recharge")),
    # --- planted: valid rules used only for planted anomalies ---------------------------------------
    TxnType("SUSPENSE_JNL", "GJ", "GJ", "1990", "D", "", "1200", "planted", median=3_000, sigma=0.6,
            doc_prefix="JNL",
            phrases=("Unidentified payment – pending investigation", "Unreconciled bank difference",
                     "Payment awaiting allocation")),
    TxnType("UNALLOC_RECEIPT", "CB", "REC", "1190", "C", "", "1200", "planted", median=2_000, sigma=0.6,
            pool="customer", doc_prefix="REC", description="counterparty",
            phrases=("Unallocated customer receipt", "Receipt – remittance advice missing")),
    TxnType("DONATION", "GJ", "GJ", "7950", "D", "", "1200", "planted", median=1_000, sigma=0.5, pool="charity",
            doc_prefix="JNL", description="counterparty",
            phrases=("Charitable donation", "Charity event sponsorship")),
    TxnType("FINE_PENALTY", "GJ", "GJ", "7960", "D", "", "1200", "planted", median=2_500, sigma=0.5,
            pool="payroll", pool_member=1, doc_prefix="JNL",
            phrases=("Late filing penalty", "Regulatory fine", "Late payment penalty")),
    TxnType("LEGAL_SETTLEMENT", "GJ", "GJ", "7970", "D", "", "1200", "planted", median=40_000, sigma=0.5,
            pool="vendor", doc_prefix="JNL", description="counterparty",
            phrases=("Settlement of claim", "Litigation settlement")),
    TxnType("CASH_SALE", "AR", "REC", "4000", "C", "sales", "1200", "planted", median=800, sigma=0.6,
            pool="customer", role="ar", doc_prefix="CS",
            phrases=("Cash sale", "Counter sale", "Trade counter takings")),
    TxnType("DIRECT_PURCHASE", "AP", "PAY", "5000", "D", "purchase", "1200", "planted", median=1_500, sigma=0.6,
            pool="vendor", role="ap", doc_prefix="DP", description="counterparty",
            phrases=("Purchase paid directly from bank", "Stock purchase paid by bank transfer")),
    # --- invalid: rules that point at an account missing from the chart, or an inactive one ---------
    TxnType("MIGRATED_AP", "AP", "PI", "59100", "D", "purchase", "2000", "invalid", median=1_200, sigma=0.75,
            pool="vendor", role="ap", doc_prefix="INV", doc_per_counterparty=True, description="counterparty",
            phrases=("Supplier invoice migrated from old ledger",)),
    TxnType("MIGRATED_SI", "AR", "SI", "4000", "C", "broken", "1100", "invalid", median=2_500, sigma=0.75,
            pool="customer", role="ar", doc_prefix="SI", description="counterparty",
            phrases=("Sales invoice migrated from old ledger",)),
    TxnType("OLD_BANK_FEE", "CB", "CB", "6500", "D", "", "1209", "invalid", median=20, sigma=0.5, pool="bank",
            doc_prefix="BNK", doc_per_counterparty=True, phrases=("Charges on closed account",)),
    # --- no posting rule ----------------------------------------------------------------------------
    TxnType("FX_REVAL", "GJ", "GJ", "", "D", "", "", "no_rule", median=5_000, sigma=0.7, doc_prefix="FXR",
            phrases=("Revaluation of foreign currency balances",)),
    TxnType("PURCH_INV_V2", "AP", "PI", "", "D", "", "", "no_rule", median=1_200, sigma=0.75, pool="vendor",
            role="ap", doc_prefix="INV", doc_per_counterparty=True, description="counterparty",
            phrases=("Supplier invoice (new interface format)",)),
    TxnType("LOAN_DRAWDOWN", "CB", "CB", "", "D", "", "", "no_rule", median=250_000, sigma=0.5, pool="bank",
            doc_prefix="LN", phrases=("Loan facility drawdown",)),
)
# fmt: on
TYPE_INDEX: dict[str, int] = {t.code: i for i, t in enumerate(TXN_TYPES)}

# Descriptions of planted "suspicious keyword" entries. No phrase of an ordinary entry contains
# any of these words: adjust, reversal, reverse, plug, write off, write-off, override, per CEO/CFO/MD,
# do not query, confidential, urgent, misc (journal_pipeline_tests/test_seed.py checks this).
SUSPICIOUS_PHRASES: tuple[str, ...] = (
    "Adjustment per CEO instruction",
    "Adjustment per CFO – do not query",
    "Plug to balance trial balance",
    "Reversal per MD – urgent",
    "Write off balance per CEO",
    "Manual override of system posting",
    "Override – confidential",
    "Misc adjustment – year-end plug",
    "Write-off of old balance – urgent",
    "Reverse and repost per CFO",
)
SUSPICIOUS_KEYWORD_PATTERN = (
    r"(?i)\b(adjust\w*|reversal|reverse|plug|write[- ]?off|override|per (ceo|cfo|md)|do not query|"
    r"confidential|urgent|misc)\b"
)

# --- chart of accounts ------------------------------------------------------------------------------

# (code, name, type, is_suspense, is_active): the accounts every company has and the rules use.
# {tax_in} and {tax_out} are filled with the company's tax name.
# fmt: off
CORE_ACCOUNTS: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("1000", "Petty cash", "ASSET", False, True),
    ("1100", "Trade debtors control", "ASSET", False, True),
    ("1110", "Allowance for doubtful debts", "ASSET", False, True),
    ("1150", "Intercompany receivables", "ASSET", False, True),
    ("1190", "Suspense – unallocated receipts", "ASSET", True, True),
    ("1195", "Suspense – bank reconciliation differences", "ASSET", True, True),
    ("1200", "Bank – main operating account", "ASSET", False, True),
    ("1209", "Bank – former operating account (closed)", "ASSET", False, False),
    ("1210", "Bank – payroll account", "ASSET", False, True),
    ("1220", "Bank – deposit account", "ASSET", False, True),
    ("1300", "Prepayments", "ASSET", False, True),
    ("1310", "Accrued income", "ASSET", False, True),
    ("1400", "{tax_in}", "ASSET", False, True),
    ("1500", "Computer equipment – cost", "ASSET", False, True),
    ("1510", "Computer equipment – accumulated depreciation", "ASSET", False, True),
    ("1990", "Suspense – general", "ASSET", True, True),
    ("2000", "Trade creditors control", "LIABILITY", False, True),
    ("2050", "Employee expenses payable", "LIABILITY", False, True),
    ("2100", "Accruals", "LIABILITY", False, True),
    ("2150", "Intercompany payables", "LIABILITY", False, True),
    ("2190", "Suspense – payroll", "LIABILITY", True, True),
    ("2200", "{tax_out}", "LIABILITY", False, True),
    ("2300", "Net wages control", "LIABILITY", False, True),
    ("2310", "Payroll taxes payable", "LIABILITY", False, True),
    ("2320", "Pension contributions payable", "LIABILITY", False, True),
    ("2400", "Corporate card liability", "LIABILITY", False, True),
    ("3000", "Share capital", "EQUITY", False, True),
    ("3100", "Retained earnings", "EQUITY", False, True),
    ("3200", "Current year earnings", "EQUITY", False, True),
    ("4000", "Product sales", "REVENUE", False, True),
    ("4100", "Service revenue", "REVENUE", False, True),
    ("4500", "Intercompany recharge income", "REVENUE", False, True),
    ("4700", "Interest income", "REVENUE", False, True),
    ("5000", "Purchases – materials", "EXPENSE", False, True),
    ("6000", "Salaries and wages", "EXPENSE", False, True),
    ("6010", "Employer payroll taxes", "EXPENSE", False, True),
    ("6020", "Pension costs", "EXPENSE", False, True),
    ("6100", "Rent, insurance and licences", "EXPENSE", False, True),
    ("6210", "Marketing and advertising", "EXPENSE", False, True),
    ("6400", "Travel and subsistence", "EXPENSE", False, True),
    ("6410", "Travel – corporate cards", "EXPENSE", False, True),
    ("6500", "Bank charges", "EXPENSE", False, True),
    ("6600", "Bad debt expense", "EXPENSE", False, True),
    ("6700", "Depreciation and amortisation", "EXPENSE", False, True),
    ("6800", "Professional fees", "EXPENSE", False, True),
    ("6900", "General administration", "EXPENSE", False, True),
    ("7950", "Charitable donations", "EXPENSE", False, True),
    ("7960", "Fines and penalties", "EXPENSE", False, True),
    ("7970", "Litigation settlements", "EXPENSE", False, True),
)
# fmt: on

# Further accounts a company may have: (code, name, type). reference.build_reference keeps all of
# these and adds department-level expense accounts until the chart has its drawn size.
# fmt: off
EXTRA_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("1010", "Petty cash – branch offices", "ASSET"),
    ("1120", "Other debtors", "ASSET"),
    ("1125", "Employee loans", "ASSET"),
    ("1130", "Deposits paid", "ASSET"),
    ("1140", "VAT refund receivable", "ASSET"),
    ("1320", "Prepaid insurance", "ASSET"),
    ("1330", "Prepaid software licences", "ASSET"),
    ("1340", "Prepaid maintenance contracts", "ASSET"),
    ("1350", "Prepaid rent", "ASSET"),
    ("1410", "Withholding tax recoverable", "ASSET"),
    ("1420", "Corporation tax receivable", "ASSET"),
    ("1430", "Deferred tax asset", "ASSET"),
    ("1520", "Land and buildings – cost", "ASSET"),
    ("1525", "Land and buildings – accumulated depreciation", "ASSET"),
    ("1530", "Leasehold improvements – cost", "ASSET"),
    ("1535", "Leasehold improvements – accumulated depreciation", "ASSET"),
    ("1540", "Plant and machinery – cost", "ASSET"),
    ("1545", "Plant and machinery – accumulated depreciation", "ASSET"),
    ("1550", "Motor vehicles – cost", "ASSET"),
    ("1555", "Motor vehicles – accumulated depreciation", "ASSET"),
    ("1560", "Furniture and fittings – cost", "ASSET"),
    ("1565", "Furniture and fittings – accumulated depreciation", "ASSET"),
    ("1570", "Software – cost", "ASSET"),
    ("1575", "Software – accumulated amortisation", "ASSET"),
    ("1580", "Right-of-use assets", "ASSET"),
    ("1585", "Right-of-use assets – accumulated depreciation", "ASSET"),
    ("1590", "Assets under construction", "ASSET"),
    ("1600", "Inventory – raw materials", "ASSET"),
    ("1610", "Inventory – work in progress", "ASSET"),
    ("1620", "Inventory – finished goods", "ASSET"),
    ("1630", "Inventory – goods in transit", "ASSET"),
    ("1640", "Inventory provision", "ASSET"),
    ("1700", "Investments in subsidiaries", "ASSET"),
    ("1710", "Goodwill", "ASSET"),
    ("1720", "Development costs capitalised", "ASSET"),
    ("2010", "Goods received not invoiced", "LIABILITY"),
    ("2020", "Other creditors", "LIABILITY"),
    ("2060", "Customer deposits", "LIABILITY"),
    ("2110", "Accrued bonuses", "LIABILITY"),
    ("2120", "Holiday pay accrual", "LIABILITY"),
    ("2130", "Accrued interest payable", "LIABILITY"),
    ("2140", "Accrued utilities", "LIABILITY"),
    ("2160", "Loans from group companies", "LIABILITY"),
    ("2210", "Corporation tax payable", "LIABILITY"),
    ("2220", "Withholding tax payable", "LIABILITY"),
    ("2230", "Deferred tax liability", "LIABILITY"),
    ("2240", "Customs duty payable", "LIABILITY"),
    ("2330", "Employee deductions payable", "LIABILITY"),
    ("2340", "Share scheme payable", "LIABILITY"),
    ("2410", "Purchase cards liability", "LIABILITY"),
    ("2500", "Warranty provision", "LIABILITY"),
    ("2510", "Restructuring provision", "LIABILITY"),
    ("2520", "Legal claims provision", "LIABILITY"),
    ("2530", "Dilapidations provision", "LIABILITY"),
    ("2600", "Deferred income", "LIABILITY"),
    ("2700", "Bank loan – current", "LIABILITY"),
    ("2710", "Bank loan – non-current", "LIABILITY"),
    ("2720", "Lease liabilities – current", "LIABILITY"),
    ("2730", "Lease liabilities – non-current", "LIABILITY"),
    ("2740", "Revolving credit facility", "LIABILITY"),
    ("2800", "Dividends payable", "LIABILITY"),
    ("3010", "Share premium", "EQUITY"),
    ("3050", "Treasury shares", "EQUITY"),
    ("3300", "Translation reserve", "EQUITY"),
    ("3400", "Revaluation reserve", "EQUITY"),
    ("3500", "Dividends paid", "EQUITY"),
    ("3600", "Other reserves", "EQUITY"),
    ("4010", "Sales – hardware", "REVENUE"),
    ("4020", "Sales – software licences", "REVENUE"),
    ("4030", "Sales – spare parts", "REVENUE"),
    ("4040", "Sales – consumables", "REVENUE"),
    ("4050", "Sales discounts", "REVENUE"),
    ("4110", "Consulting revenue", "REVENUE"),
    ("4120", "Support and maintenance revenue", "REVENUE"),
    ("4130", "Training revenue", "REVENUE"),
    ("4140", "Installation revenue", "REVENUE"),
    ("4150", "Subscription revenue", "REVENUE"),
    ("4200", "Rental income", "REVENUE"),
    ("4300", "Royalty income", "REVENUE"),
    ("4400", "Commission income", "REVENUE"),
    ("4600", "Grant income", "REVENUE"),
    ("4800", "Foreign exchange gains – realised", "REVENUE"),
    ("4810", "Foreign exchange gains – unrealised", "REVENUE"),
    ("4900", "Gain on disposal of fixed assets", "REVENUE"),
    ("4950", "Other operating income", "REVENUE"),
    ("5010", "Direct labour", "EXPENSE"),
    ("5020", "Freight inwards", "EXPENSE"),
    ("5030", "Import duty", "EXPENSE"),
    ("5040", "Stock count differences", "EXPENSE"),
    ("5050", "Subcontractor costs", "EXPENSE"),
    ("8000", "Interest expense", "EXPENSE"),
    ("8010", "Loan arrangement fees", "EXPENSE"),
    ("8020", "Foreign exchange losses – realised", "EXPENSE"),
    ("8030", "Foreign exchange losses – unrealised", "EXPENSE"),
    ("8040", "Loss on disposal of fixed assets", "EXPENSE"),
    ("8100", "Corporation tax expense", "EXPENSE"),
    ("8110", "Deferred tax expense", "EXPENSE"),
)
# fmt: on

# Department-level expense accounts: code 7000 + 20 * category + department (1..8).
# fmt: off
EXPENSE_CATEGORIES: tuple[str, ...] = (
    "Salaries", "Bonuses", "Overtime", "Temporary staff", "Training", "Recruitment", "Travel", "Accommodation",
    "Meals and entertainment", "Mileage", "Telephone", "Mobile phones", "Internet", "Software licences",
    "Cloud services", "IT hardware", "Office supplies", "Printing", "Postage and courier", "Subscriptions",
    "Memberships", "Conferences", "Advertising", "Market research", "Sponsorship", "Consultancy", "Legal fees",
    "Audit fees", "Insurance", "Rent", "Service charges", "Utilities", "Cleaning", "Repairs and maintenance",
    "Security", "Vehicle running costs", "Fuel", "Freight outwards", "Samples", "Sundry expenses",
)
# fmt: on
DEPARTMENTS: tuple[str, ...] = ("Sales", "Marketing", "Operations", "IT", "Finance", "HR", "R&D", "Executive")
