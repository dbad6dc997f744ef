"""Numbers as people read them, the same in the terminal, the UI and the HTML report:
dollars with a precision that fits the amount, significant digits for errors, fixed
decimals for seconds and ratios. (JSON output keeps the full-precision values.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

SIGNIFICANT = 4


def usd(amount: float | None) -> str:
    """Dollars: cents from $1 up (``$1,234.57``), three significant digits below
    (``$0.500``, ``$0.0000167``), ``$0`` for nothing."""
    if amount is None:
        return ""
    if amount == 0:
        return "$0"
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    decimals = -math.floor(math.log10(value)) + 2
    return f"{sign}${value:.{decimals}f}"


def significant(value: float | None, digits: int = SIGNIFICANT) -> str:
    """``digits`` significant digits, in fixed notation between 1e-4 and 1e9."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if not -4 <= magnitude < 9:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}" if magnitude >= 4 else f"{value:.{decimals}f}"


def fixed(decimals: int) -> Callable[[Any], str]:
    """A formatter with ``decimals`` decimals (blank for None)."""

    def render(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        return f"{value:,.{decimals}f}"

    return render


def integer(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def text(value: Any) -> str:
    return "" if value is None else str(value)


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    right: Sequence[str] = (),
) -> str:
    """Rows as a markdown table (``|`` in values escaped); columns from the first row."""
    if not rows:
        return "_none_"
    formats = formats or {}
    columns = list(rows[0])

    def cell(column: str, value: Any) -> str:
        shown = formats.get(column, text)(value)
        return shown.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
        "| " + " | ".join("---:" if c in right else "---" for c in columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(c, row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
