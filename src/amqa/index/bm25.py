"""BM25 as every backend computes it (the Lucene variant bm25s implements: k1 1.5, b 0.75, float32),
so that the same chunks get the same scores whichever backend holds them.

>>> params = Bm25Params()
>>> round(params.idf(df=1, n=10), 4)
1.9924
>>> [round(float(w), 4) for w in params.weight(np.float32(2.0), np.array([1, 3]), params.norms(np.array([5, 5]), 5.0))]
[0.8, 1.3333]
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from amqa.errors import InvalidInputError


@dataclass(frozen=True)
class Bm25Params:
    """BM25's two constants (bm25s's defaults)."""

    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if not self.k1 > 0 or not 0 <= self.b <= 1:
            raise InvalidInputError(f"BM25 needs k1 > 0 and 0 <= b <= 1, got k1={self.k1!r}, b={self.b!r}")

    def idf(self, df: int, n: int) -> float:
        """The inverse document frequency of a word held by ``df`` of ``n`` chunks."""
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def max_idf(self, n: int) -> float:
        """The idf of a word no chunk holds."""
        return float(np.log(1 + (n + 0.5) / 0.5))

    def norms(self, lengths: np.ndarray, avg_len: float) -> np.ndarray:
        """Each chunk's length term k1 (1 - b + b len / avg len), float32."""
        return np.float32(self.k1) * (np.float32(1 - self.b) + np.float32(self.b) * np.asarray(lengths, np.float32)
                                      / np.float32(avg_len))

    def weight(self, idf: np.float32, tf: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """A word's weight in chunks where it occurs ``tf`` times, their length terms ``norms``: float32,
        one formula for every path (a backend's exact and pruned top-n must agree bit for bit)."""
        f = tf.astype(np.float32)
        return idf * (f / (norms + f))

    def best_possible(self, idfs: list[float]) -> float:
        """An upper bound of a chunk's score for a question whose distinct words have these idf."""
        return (self.k1 + 1) * sum(idfs)


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """The positions of the ``n`` highest positive scores, best first, ties in position order: what a
    stable sort of every positive score gives, without sorting them all (BM25 matches most chunks of a
    large index for a common word: sorting 100k scores took 8 ms a question).

    >>> top_positions(np.array([0.0, 2.0, 1.0, 2.0, 3.0]), 3).tolist()
    [4, 1, 3]
    """
    matched = np.flatnonzero(scores > 0)
    if len(matched) > 4 * n:
        values = scores[matched]
        cut = np.partition(values, len(values) - n)[len(values) - n]  # the n-th highest value
        matched = matched[values >= cut]  # every row that can be in the first n, ties included
    return matched[np.argsort(-scores[matched], kind="stable")][:n]


class Postings(Protocol):
    """What :func:`maxscore_top` reads of a backend's BM25 postings (positions 0 .. ``size`` - 1)."""

    def df(self, token: str) -> int: ...

    def idf(self, token: str, unseen: float | None = None) -> float: ...

    def weights(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The positions holding ``token`` and its float32 weight in each."""
        ...

    def weights_at(self, token: str, positions: np.ndarray) -> np.ndarray:
        """The same weights at the sorted ``positions`` only (0 where absent)."""
        ...


def maxscore_top(postings: Postings, tokens: Sequence[str], n: int, size: int,
                 lazy: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``n`` best BM25 positions and scores for ``tokens`` by MaxScore, exactly as scoring every
    position would give them (``top_positions`` of the full scores): words are scored over every position
    rarest first, until the ``n``-th best score so far is above what the words left can add (a weight is
    idf x tf / (norm + tf) < idf) and the next word is in ``lazy`` positions or more; those words are then
    scored only for the positions that can still make the ``n`` best. None when the bound never rules
    the other positions out before the last word, or fewer than ``n`` match (score every position then).
    Every backend calls this one, so that they return the same top."""
    counts = Counter(tokens)
    order = sorted(counts, key=lambda t: (postings.df(t), t))  # rarest first
    rest = sum(counts[t] * postings.idf(t) for t in order)  # what the words not scored yet can add
    partial = np.zeros(size, dtype=np.float32)
    floor = 0.0  # the n-th best score is at least this
    for i, token in enumerate(order[:-1]):
        rows, weights = postings.weights(token)
        partial[rows] += np.float32(counts[token]) * weights
        rest -= counts[token] * postings.idf(token)
        if len(rows) >= n:  # the n-th best among this word's positions (not over every one: cheaper)
            values = partial[rows]
            floor = max(floor, float(np.partition(values, len(values) - n)[len(values) - n]))
        margin = 1e-4 * (floor + rest) + 1e-6  # float32 sums in another order
        if postings.df(order[i + 1]) >= lazy and rest + margin < floor:
            break
    else:
        return None
    # Any other position scores under the floor: ``rest`` at most, or its partial score plus ``rest``.
    # The words left, rarest first, are scored for the survivors only, which they prune further.
    survivors = np.flatnonzero(partial >= floor - rest - margin)
    scores = partial[survivors]
    for token in order[i + 1:]:
        scores += np.float32(counts[token]) * postings.weights_at(token, survivors)
        rest -= counts[token] * postings.idf(token)
        if len(scores) > n:
            floor = max(floor, float(np.partition(scores, len(scores) - n)[len(scores) - n]))
        keep = scores + rest + margin >= floor
        survivors, scores = survivors[keep], scores[keep]
    # The survivors' scores again, summed in the question's order as the full scoring adds them: the
    # same float32 values.
    full = np.zeros(len(survivors), dtype=np.float32)
    for token in tokens:
        full += postings.weights_at(token, survivors)
    best = top_positions(full, n)
    if len(best) < n or float(full[best[-1]]) < floor - margin:
        return None  # not reached: the floor's n positions are survivors, scoring at least their partial
    return survivors[best], full[best]
