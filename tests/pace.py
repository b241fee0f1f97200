"""Deadlines from the speed measured in the test itself, not from an assumed one.

A machine busy with other work can make every token several times slower; a deadline such
as "Stop ends the reply within 1 s" is really "within a few tokens' time". Those few tokens
are measured in the same test, so the check holds on a slow or loaded machine and stays
strict on a fast one.
"""

from __future__ import annotations

STOP_FLOOR_S = 1.0     # never stricter than this: scheduling and start-up hiccups
STOP_TOKENS = 10       # Stop must land within this many tokens' time


def stop_deadline_s(tokens_per_second: float | None) -> float:
    """How long Stop may take, given the reply's measured speed."""
    if not tokens_per_second:
        return STOP_FLOOR_S
    return max(STOP_FLOOR_S, STOP_TOKENS / tokens_per_second)
