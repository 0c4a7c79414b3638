"""Bias diagnostics of a run's judgments against the labels: does a GRM favour the response it was
shown first, or the longer one? Pure Python: the web never imports numpy.

Each sample is (scores in original order, permutation shown, labelled best or None, response lengths).
A sample counts only when its scores pick one response (`top_choice`: a unique maximum).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workers.grm.voting import top_choice


@dataclass
class _Rate:
    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> None:
        self.hits += hit
        self.total += 1

    def value(self) -> dict[str, float | int | None]:
        return {"rate": self.hits / self.total if self.total else None, "hits": self.hits, "total": self.total}


def bias_diagnostics(
    samples: Iterable[tuple[Sequence[int] | None, Sequence[int], int | None, Sequence[int]]],
) -> dict[str, dict[str, float | int | None]]:
    """Rates of picking the first-shown and the longer response, overall and where that response is
    not the labelled best (each against the rate a judge with no such bias would show: 1 / n)."""
    first = _Rate()
    first_against = _Rate()
    longer = _Rate()
    longer_against = _Rate()
    chance_total = 0.0
    chance_count = 0
    for scores, permutation, best, lengths in samples:
        pick = top_choice(scores)
        if pick is None or not permutation:
            continue
        shown_first = permutation[0]
        first.add(pick == shown_first)
        chance_total += 1 / len(permutation)
        chance_count += 1
        if best is not None and shown_first != best:
            first_against.add(pick == shown_first)
        if lengths and lengths.count(max(lengths)) == 1:
            longest = lengths.index(max(lengths))
            longer.add(pick == longest)
            if best is not None and longest != best:
                longer_against.add(pick == longest)
    return {
        "first_shown_wins": first.value(),
        "first_shown_wins_when_not_best": first_against.value(),
        "longer_wins": longer.value(),
        "longer_wins_when_not_best": longer_against.value(),
        "chance": {"rate": chance_total / chance_count if chance_count else None, "hits": 0, "total": chance_count},
    }
