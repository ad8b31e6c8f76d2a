"""Numbers for people, shared by the CLI, the report and the analyses' texts: grouped digits,
sensible decimals, never scientific notation. Imports nothing heavy (the CLI stays fast)."""

from __future__ import annotations

import math
import numbers

__all__ = ["fmt_number"]


def fmt_number(x: object, *, money: bool = False, digits: int = 3) -> str:
    """A number for people: grouped digits, sensible decimals, never scientific notation.

    Whole numbers and anything from 1,000 up print without decimals; smaller ones with
    ``digits`` significant digits (trailing zeros dropped); ``money`` always shows cents
    below 1,000. Missing values print as "–".

    Examples
    --------
    >>> fmt_number(1_979_000.0), fmt_number(1e4), fmt_number(12_345)
    ('1,979,000', '10,000', '12,345')
    >>> fmt_number(0.8451), fmt_number(12.3456), fmt_number(0.0000123)
    ('0.845', '12.3', '0.0000123')
    >>> fmt_number(1979.5, money=True), fmt_number(12.5, money=True)
    ('1,980', '12.50')
    >>> fmt_number(float("nan")), fmt_number(None)
    ('–', '–')
    """
    if x is None or type(x).__name__ in ("NAType", "NaTType"):
        return "–"
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return str(bool(x))
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if not isinstance(x, numbers.Real):
        return str(x)
    v = float(x)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if money:
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}"
    if v == 0 or v.is_integer() or abs(v) >= 1000:
        return f"{v:,.0f}"
    decimals = min(max(0, digits - 1 - math.floor(math.log10(abs(v)))), 15)
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
