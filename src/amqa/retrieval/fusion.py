"""Weighted reciprocal rank fusion (RRF): each ranking votes ``weight / (k + rank)`` for its items.

>>> scores = weighted_rrf([Ranking([7, 3]), Ranking([3], weights=[0.5])], k=10)
>>> sorted(scores, key=lambda i: -scores[i])
[3, 7]
>>> round(scores[7], 4), round(scores[3], 4)
(0.0909, 0.1288)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Ranking:
    """Item ids best first; ``weights`` is one weight for all, or one per position."""

    ids: Sequence[int]
    weights: float | Sequence[float] = 1.0

    def weight(self, position: int) -> float:
        return self.weights if isinstance(self.weights, (int, float)) else self.weights[position]


def weighted_rrf(rankings: Sequence[Ranking], k: int) -> dict[int, float]:
    """Fused score of every item any ranking holds (ranks are 1-based: the first item gets ``w/(k+1)``).

    Items keep the order in which rankings first name them, so ties break the same way every time.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for position, item in enumerate(ranking.ids):
            fused[item] = fused.get(item, 0.0) + ranking.weight(position) / (k + position + 1)
    return fused
