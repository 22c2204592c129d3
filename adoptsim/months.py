"""Calendar months as integers: the model's clock is one step per month.

A month is stored as ``year * 12 + (month - 1)`` so differences are month counts and
vectorised arithmetic stays integer.
"""

from __future__ import annotations

import re

# ASCII digits only, nothing around them: a full-width "２０２４-01" or " 2024-01" would be saved
# verbatim and then read as another text than the month it means
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?", re.ASCII)


def parse_month(text: object, field: str = "month") -> int:
    """Parse ``"YYYY-MM"`` (or ``"YYYY-MM-DD"``, day ignored) into a month index.

    Raises:
        ScenarioError: naming ``field`` when the text is not a real calendar month.
    """
    from adoptsim.errors import ScenarioError

    if not isinstance(text, str):
        raise ScenarioError(field, text, 'must be a month written "YYYY-MM"')
    m = _MONTH_RE.fullmatch(text)
    if not m:
        raise ScenarioError(field, text, 'must be a month written "YYYY-MM"')
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise ScenarioError(field, text, "month must be 01..12")
    if m.group(3) is not None and not 1 <= int(m.group(3)) <= 31:
        raise ScenarioError(field, text, "day must be 01..31")
    if not 1900 <= year <= 2200:
        raise ScenarioError(field, text, "year must be within 1900..2200")
    return year * 12 + month - 1


def format_month(index: int) -> str:
    """Format a month index as ``"YYYY-MM"``."""
    year, month0 = divmod(int(index), 12)
    return f"{year:04d}-{month0 + 1:02d}"
