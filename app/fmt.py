"""Numbers formatted for the reader's language (vi: 1.234.567,8; en: 1,234,567.8).

Planners copy figures into reports, so the separators must be the ones of their language;
Python's locale module depends on the machine's installed locales, hence this small formatter.
"""

from __future__ import annotations

import math

_SEPARATORS = {"vi": (".", ","), "en": (",", ".")}  # (thousands, decimal)


def number(value: float | int | None, lang: str, decimals: int = 0) -> str:
    """A number with the language's thousands and decimal separators; "–" when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    thousands, decimal = _SEPARATORS.get(lang, _SEPARATORS["en"])
    value = float(value)
    if round(value, decimals) == 0:
        value = 0.0  # no "-0"
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans({",": thousands, ".": decimal}))


def percent(value: float | None, lang: str, decimals: int = 1) -> str:
    """A percentage: "82,5 %" in Vietnamese, "82.5%" in English."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{number(value, lang, decimals)} %" if lang == "vi" else f"{number(value, lang, decimals)}%"


def points(value: float | None, lang: str, decimals: int = 1, signed: bool = True) -> str:
    """Percentage points: "+2,5 đ.p." / "+2.5 pp" (unsigned: "2,5 đ.p.")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = ("+" if value > 0 else ("−" if value < 0 else "")) if signed else ""
    unit = "đ.p." if lang == "vi" else "pp"
    return f"{sign}{number(abs(value), lang, decimals)} {unit}"


def ratio(covered: float, total: float, lang: str) -> str:
    """"covered / total" as whole numbers, for tooltips and tables."""
    return f"{number(covered, lang)} / {number(total, lang)}"


def date(iso: str, lang: str) -> str:
    """An ISO date as readers write it: 31/12/2025 (vi), 31 Dec 2025 (en)."""
    import datetime as dt  # noqa: PLC0415

    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError:
        return str(iso)
    return f"{day.day:02d}/{day.month:02d}/{day.year}" if lang == "vi" else day.strftime("%-d %b %Y")


def short_name(name: str) -> str:
    """A unit's name without its type prefix ("Tỉnh Bắc Ninh" -> "Bắc Ninh"), for crowded labels."""
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name
