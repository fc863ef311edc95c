"""Reading level of patient-facing text, measured with textstat (Flesch-Kincaid grade)."""

from __future__ import annotations

import textstat


def grade(text: str) -> float:
    """The US school grade needed to read `text` (Flesch-Kincaid)."""
    return float(textstat.flesch_kincaid_grade(text))
