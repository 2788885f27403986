"""Public holidays per country: a pure calendar for the holiday-entry test (SPEC section 5).

Journal-entry testing flags entries made on days the business is closed. A company's country
follows from its IANA time zone (:func:`country_for_timezone`); :func:`public_holidays` gives that
country's nationwide public holidays of one year, computed from rules rather than stored lists,
so that any year works offline and the same answer comes out everywhere.

What is covered, and what is not (a deliberate, documented simplification):

- fixed-date holidays (1 January, 25 December, national days, ...);
- Easter-based holidays (Good Friday, Easter Monday, Ascension, Whit Monday, ...), from the
  Gregorian computus;
- "n-th weekday of a month" holidays (US Thanksgiving, UK bank holidays, ...) and "weekday on or
  before/after a date" ones (Canada's Victoria Day, Sweden's Midsummer Eve);
- the Japanese equinox days, from the usual approximation valid for 1900-2099;
- substitute days where the country moves a holiday that falls on a weekend: the next free
  weekday (GB, IE, AU, NZ), the nearest weekday (US), or the next day after a Sunday (JP, HK,
  SG, ZA, CA, IN).

Not covered: holidays of lunar or Islamic calendars (Chinese New Year, Diwali, Eid, Vesak,
Deepavali ...), regional holidays beyond the capital's region named in the table, and one-off
holidays proclaimed for a single year. The answer is therefore a subset of the real calendar;
every day it returns is a genuine public holiday.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "COUNTRY_BY_TIMEZONE",
    "country_for_timezone",
    "easter_sunday",
    "holidays_between",
    "is_public_holiday",
    "public_holidays",
    "supported_countries",
]

# IANA zone -> ISO 3166 country: the zones of the seeded companies and their neighbours.
COUNTRY_BY_TIMEZONE: dict[str, str] = {
    "Europe/London": "GB",
    "Europe/Belfast": "GB",
    "America/New_York": "US",
    "America/Chicago": "US",
    "America/Denver": "US",
    "America/Los_Angeles": "US",
    "America/Phoenix": "US",
    "Europe/Berlin": "DE",
    "Asia/Tokyo": "JP",
    "Asia/Singapore": "SG",
    "Europe/Zurich": "CH",
    "Europe/Paris": "FR",
    "Australia/Sydney": "AU",
    "Australia/Melbourne": "AU",
    "America/Toronto": "CA",
    "America/Vancouver": "CA",
    "Europe/Amsterdam": "NL",
    "Europe/Stockholm": "SE",
    "Asia/Hong_Kong": "HK",
    "Europe/Dublin": "IE",
    "Europe/Oslo": "NO",
    "Asia/Kolkata": "IN",
    "Asia/Calcutta": "IN",
    "Pacific/Auckland": "NZ",
    "Europe/Copenhagen": "DK",
    "Europe/Madrid": "ES",
    "Africa/Johannesburg": "ZA",
}

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@dataclass(frozen=True)
class _Rule:
    """One holiday: how its date is found in a year, and whether a weekend date is substituted."""

    name: str
    kind: str  # "fixed", "easter", "nth", "on_or_after", "on_or_before", "vernal", "autumnal"
    month: int = 0
    day: int = 0
    weekday: int = 0
    nth: int = 0  # 1..5, or -1 for the last one in the month
    offset: int = 0  # days after Easter Sunday
    substitute: bool = False
    first_year: int = 1900
    last_year: int = 2199

    def date_in(self, year: int) -> dt.date | None:
        if not self.first_year <= year <= self.last_year:
            return None
        if self.kind == "fixed":
            return dt.date(year, self.month, self.day)
        if self.kind == "easter":
            return easter_sunday(year) + dt.timedelta(days=self.offset)
        if self.kind == "nth":
            return _nth_weekday(year, self.month, self.weekday, self.nth)
        if self.kind == "on_or_after":
            start = dt.date(year, self.month, self.day)
            return start + dt.timedelta(days=(self.weekday - start.weekday()) % 7)
        if self.kind == "on_or_before":
            end = dt.date(year, self.month, self.day)
            return end - dt.timedelta(days=(end.weekday() - self.weekday) % 7)
        if self.kind in ("vernal", "autumnal"):
            return _japanese_equinox(year, vernal=self.kind == "vernal")
        raise ValueError(f"unknown holiday rule kind {self.kind!r}")


def _fixed(
    name: str,
    month: int,
    day: int,
    *,
    substitute: bool = False,
    first_year: int = 1900,
    last_year: int = 2199,
) -> _Rule:
    return _Rule(name, "fixed", month=month, day=day, substitute=substitute, first_year=first_year, last_year=last_year)


def _easter(name: str, offset: int, *, last_year: int = 2199) -> _Rule:
    return _Rule(name, "easter", offset=offset, last_year=last_year)


def _nth(name: str, month: int, weekday: int, nth: int, *, first_year: int = 1900) -> _Rule:
    return _Rule(name, "nth", month=month, weekday=weekday, nth=nth, first_year=first_year)


GOOD_FRIDAY = _easter("Good Friday", -2)
EASTER_MONDAY = _easter("Easter Monday", 1)
MAUNDY_THURSDAY = _easter("Maundy Thursday", -3)
ASCENSION = _easter("Ascension Day", 39)
WHIT_MONDAY = _easter("Whit Monday", 50)
NEW_YEAR = _fixed("New Year's Day", 1, 1)
LABOUR_DAY = _fixed("Labour Day", 5, 1)
CHRISTMAS = _fixed("Christmas Day", 12, 25)

# How a country moves a substituted holiday that falls on a weekend.
_SUBSTITUTION = {
    "GB": "next_free_weekday",
    "IE": "next_free_weekday",
    "AU": "next_free_weekday",
    "NZ": "next_free_weekday",
    "US": "nearest_weekday",
    "JP": "after_sunday",
    "HK": "after_sunday",
    "SG": "after_sunday",
    "ZA": "after_sunday",
    "CA": "after_sunday",
    "IN": "after_sunday",
}

_RULES: dict[str, tuple[_Rule, ...]] = {
    # England and Wales.
    "GB": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _nth("Early May bank holiday", 5, MON, 1),
        _nth("Spring bank holiday", 5, MON, -1),
        _nth("Summer bank holiday", 8, MON, -1),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("Boxing Day", 12, 26, substitute=True),
    ),
    # Federal holidays that businesses close for (Columbus and Veterans Day are left out).
    "US": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _nth("Martin Luther King Jr. Day", 1, MON, 3),
        _nth("Presidents' Day", 2, MON, 3),
        _nth("Memorial Day", 5, MON, -1),
        _fixed("Juneteenth", 6, 19, substitute=True, first_year=2021),
        _fixed("Independence Day", 7, 4, substitute=True),
        _nth("Labor Day", 9, MON, 1),
        _nth("Thanksgiving Day", 11, THU, 4),
        _fixed("Christmas Day", 12, 25, substitute=True),
    ),
    # Nationwide holidays only.
    "DE": (
        NEW_YEAR,
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _fixed("Tag der Arbeit", 5, 1),
        ASCENSION,
        WHIT_MONDAY,
        _fixed("Tag der Deutschen Einheit", 10, 3),
        CHRISTMAS,
        _fixed("Zweiter Weihnachtstag", 12, 26),
    ),
    "JP": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _fixed("Bank holiday", 1, 2),
        _fixed("Bank holiday", 1, 3),
        _nth("Coming of Age Day", 1, MON, 2, first_year=2000),
        _fixed("National Foundation Day", 2, 11, substitute=True),
        _fixed("Emperor's Birthday", 2, 23, substitute=True, first_year=2020),
        _Rule("Vernal Equinox Day", "vernal", substitute=True),
        _fixed("Showa Day", 4, 29, substitute=True),
        _fixed("Constitution Memorial Day", 5, 3, substitute=True),
        _fixed("Greenery Day", 5, 4, substitute=True),
        _fixed("Children's Day", 5, 5, substitute=True),
        _nth("Marine Day", 7, MON, 3, first_year=2003),
        _fixed("Mountain Day", 8, 11, substitute=True, first_year=2016),
        _nth("Respect for the Aged Day", 9, MON, 3, first_year=2003),
        _Rule("Autumnal Equinox Day", "autumnal", substitute=True),
        _nth("Sports Day", 10, MON, 2, first_year=2000),
        _fixed("Culture Day", 11, 3, substitute=True),
        _fixed("Labour Thanksgiving Day", 11, 23, substitute=True),
        _fixed("Bank holiday", 12, 31),
    ),
    "SG": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        GOOD_FRIDAY,
        _fixed("Labour Day", 5, 1, substitute=True),
        _fixed("National Day", 8, 9, substitute=True),
        _fixed("Christmas Day", 12, 25, substitute=True),
    ),
    # Canton of Zurich.
    "CH": (
        NEW_YEAR,
        _fixed("Berchtoldstag", 1, 2),
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _fixed("Labour Day", 5, 1),
        ASCENSION,
        WHIT_MONDAY,
        _fixed("Swiss National Day", 8, 1),
        CHRISTMAS,
        _fixed("St. Stephen's Day", 12, 26),
    ),
    "FR": (
        NEW_YEAR,
        EASTER_MONDAY,
        _fixed("Fête du Travail", 5, 1),
        _fixed("Victoire 1945", 5, 8),
        ASCENSION,
        WHIT_MONDAY,
        _fixed("Fête nationale", 7, 14),
        _fixed("Assomption", 8, 15),
        _fixed("Toussaint", 11, 1),
        _fixed("Armistice", 11, 11),
        CHRISTMAS,
    ),
    # New South Wales.
    "AU": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _fixed("Australia Day", 1, 26, substitute=True),
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _fixed("Anzac Day", 4, 25),
        _nth("King's Birthday", 6, MON, 2),
        _nth("Labour Day", 10, MON, 1),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("Boxing Day", 12, 26, substitute=True),
    ),
    # Ontario.
    "CA": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _nth("Family Day", 2, MON, 3, first_year=2008),
        GOOD_FRIDAY,
        _Rule("Victoria Day", "on_or_before", month=5, day=24, weekday=MON),
        _fixed("Canada Day", 7, 1, substitute=True),
        _nth("Civic Holiday", 8, MON, 1),
        _nth("Labour Day", 9, MON, 1),
        _nth("Thanksgiving", 10, MON, 2),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("Boxing Day", 12, 26, substitute=True),
    ),
    "NL": (
        NEW_YEAR,
        EASTER_MONDAY,
        _fixed("Koningsdag", 4, 27, first_year=2014),
        ASCENSION,
        WHIT_MONDAY,
        CHRISTMAS,
        _fixed("Tweede Kerstdag", 12, 26),
    ),
    "SE": (
        NEW_YEAR,
        _fixed("Epiphany", 1, 6),
        GOOD_FRIDAY,
        EASTER_MONDAY,
        LABOUR_DAY,
        ASCENSION,
        _fixed("National Day", 6, 6, first_year=2005),
        _Rule("Midsummer Eve", "on_or_after", month=6, day=19, weekday=FRI),
        _fixed("Christmas Eve", 12, 24),
        CHRISTMAS,
        _fixed("St. Stephen's Day", 12, 26),
        _fixed("New Year's Eve", 12, 31),
    ),
    "HK": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        GOOD_FRIDAY,
        _easter("Day after Good Friday", -1),
        EASTER_MONDAY,
        _fixed("Labour Day", 5, 1, substitute=True),
        _fixed("HKSAR Establishment Day", 7, 1, substitute=True),
        _fixed("National Day", 10, 1, substitute=True),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("First weekday after Christmas Day", 12, 26, substitute=True),
    ),
    "IE": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _nth("St Brigid's Day", 2, MON, 1, first_year=2023),
        _fixed("St Patrick's Day", 3, 17, substitute=True),
        EASTER_MONDAY,
        _nth("May bank holiday", 5, MON, 1),
        _nth("June bank holiday", 6, MON, 1),
        _nth("August bank holiday", 8, MON, 1),
        _nth("October bank holiday", 10, MON, -1),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("St Stephen's Day", 12, 26, substitute=True),
    ),
    "NO": (
        NEW_YEAR,
        MAUNDY_THURSDAY,
        GOOD_FRIDAY,
        EASTER_MONDAY,
        LABOUR_DAY,
        _fixed("Constitution Day", 5, 17),
        ASCENSION,
        WHIT_MONDAY,
        CHRISTMAS,
        _fixed("St. Stephen's Day", 12, 26),
    ),
    # Nationwide (gazetted) holidays; the lunar-calendar ones are not computed.
    "IN": (
        _fixed("Republic Day", 1, 26, substitute=True),
        GOOD_FRIDAY,
        _fixed("Independence Day", 8, 15, substitute=True),
        _fixed("Gandhi Jayanti", 10, 2, substitute=True),
        _fixed("Christmas Day", 12, 25, substitute=True),
    ),
    "NZ": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _fixed("Day after New Year's Day", 1, 2, substitute=True),
        _fixed("Waitangi Day", 2, 6, substitute=True),
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _fixed("Anzac Day", 4, 25, substitute=True),
        _nth("King's Birthday", 6, MON, 1),
        _nth("Labour Day", 10, MON, 4),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("Boxing Day", 12, 26, substitute=True),
    ),
    "DK": (
        NEW_YEAR,
        MAUNDY_THURSDAY,
        GOOD_FRIDAY,
        EASTER_MONDAY,
        _easter("Great Prayer Day", 26, last_year=2023),
        ASCENSION,
        WHIT_MONDAY,
        _fixed("Constitution Day", 6, 5),
        _fixed("Christmas Eve", 12, 24),
        CHRISTMAS,
        _fixed("Second Day of Christmas", 12, 26),
    ),
    # National holidays common to every region.
    "ES": (
        NEW_YEAR,
        _fixed("Epifanía del Señor", 1, 6),
        GOOD_FRIDAY,
        _fixed("Fiesta del Trabajo", 5, 1),
        _fixed("Asunción de la Virgen", 8, 15),
        _fixed("Fiesta Nacional de España", 10, 12),
        _fixed("Todos los Santos", 11, 1),
        _fixed("Día de la Constitución", 12, 6),
        _fixed("Inmaculada Concepción", 12, 8),
        CHRISTMAS,
    ),
    "ZA": (
        _fixed("New Year's Day", 1, 1, substitute=True),
        _fixed("Human Rights Day", 3, 21, substitute=True),
        GOOD_FRIDAY,
        _easter("Family Day", 1),
        _fixed("Freedom Day", 4, 27, substitute=True),
        _fixed("Workers' Day", 5, 1, substitute=True),
        _fixed("Youth Day", 6, 16, substitute=True),
        _fixed("National Women's Day", 8, 9, substitute=True),
        _fixed("Heritage Day", 9, 24, substitute=True),
        _fixed("Day of Reconciliation", 12, 16, substitute=True),
        _fixed("Christmas Day", 12, 25, substitute=True),
        _fixed("Day of Goodwill", 12, 26, substitute=True),
    ),
}


def supported_countries() -> tuple[str, ...]:
    """The ISO country codes this calendar knows."""
    return tuple(sorted(_RULES))


def country_for_timezone(timezone: str) -> str:
    """The country whose holidays apply to a company in ``timezone`` (an IANA name)."""
    try:
        return COUNTRY_BY_TIMEZONE[timezone]
    except KeyError:
        raise ValueError(
            f"no holiday calendar for time zone {timezone!r}; known zones: {', '.join(sorted(COUNTRY_BY_TIMEZONE))}"
        ) from None


def easter_sunday(year: int) -> dt.date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    if nth > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _japanese_equinox(year: int, *, vernal: bool) -> dt.date:
    # The approximation the Japanese almanac tables follow for 1980-2099 (±0 days in that range).
    base = 20.8431 if vernal else 23.2488
    day = int(base + 0.242194 * (year - 1980) - (year - 1980) // 4)
    return dt.date(year, 3 if vernal else 9, day)


@lru_cache(maxsize=4096)
def _holidays_of_year(country: str, year: int) -> tuple[tuple[dt.date, str], ...]:
    try:
        rules = _RULES[country]
    except KeyError:
        raise ValueError(
            f"no holiday calendar for country {country!r}; known: {', '.join(supported_countries())}"
        ) from None
    policy = _SUBSTITUTION.get(country)
    found: dict[dt.date, str] = {}
    substituted: list[tuple[dt.date, str]] = []
    for rule in rules:
        day = rule.date_in(year)
        if day is None:
            continue
        if day not in found:
            found[day] = rule.name
        if rule.substitute and policy and day.weekday() >= SAT:
            substituted.append((day, rule.name))
    # Substitutes are placed after every regular holiday is known, in date order, so that
    # Christmas on a Saturday moves to Monday and Boxing Day (Sunday) to Tuesday.
    for day, name in sorted(substituted):
        if policy == "nearest_weekday":
            moved = day - dt.timedelta(days=1) if day.weekday() == SAT else day + dt.timedelta(days=1)
        elif policy == "after_sunday":
            if day.weekday() != SUN:
                continue
            moved = day + dt.timedelta(days=1)
            while moved in found:
                moved += dt.timedelta(days=1)
        else:  # next_free_weekday
            moved = day + dt.timedelta(days=1)
            while moved.weekday() >= SAT or moved in found:
                moved += dt.timedelta(days=1)
        found.setdefault(moved, f"{name} (substitute day)")
    return tuple(sorted(found.items()))


def public_holidays(country: str, year: int) -> dict[dt.date, str]:
    """Public holidays of ``country`` (ISO 3166 alpha-2) in ``year``: date -> name, in date order."""
    return dict(_holidays_of_year(country, year))


def holidays_between(country: str, start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """Public holidays of ``country`` from ``start`` to ``end``, both inclusive."""
    result: dict[dt.date, str] = {}
    # A substitute day can fall in the previous year (US: 1 January on a Saturday is observed on
    # 31 December), hence the extra year.
    for year in range(start.year, end.year + 2):
        for day, name in _holidays_of_year(country, year):
            if start <= day <= end:
                result[day] = name
    return result


def is_public_holiday(country: str, day: dt.date) -> bool:
    """Whether ``day`` is a public holiday in ``country``."""
    return bool(holidays_between(country, day, day))
