"""The seam under retrieval: what a search backend answers, whatever engine holds the index.

A :class:`SearchBackend` is one loaded, read-only snapshot of an index. Chunks are named by their
string ids (``"notes/a.md#3"``) across the seam; inside one snapshot they also have a *position*
(0 .. ``len(chunks) - 1``, in the order the index lists them), which the hybrid recipe above the
backend (:mod:`amqa.retrieval.search`) uses to fuse rankings and to break ties the same way on every backend.

The hybrid recipe that was measured (weighted RRF, BM25 votes weighted by question coverage, language
centering) stays in amqa, above the backend; a backend supplies only its parts:

- the positions of chunks near a vector, directly or through one of their sentences (``candidates``);
- each chunk's similarity and its best sentence's similarity (``dense_parts``);
- per-language mean similarities for centering (``language_bias``, ``languages``);
- BM25: the top chunks for tokens, document frequencies and idf (``bm25_top``, ``df``, ``idf``,
  ``best_possible``), with the formulas of :mod:`amqa.index.bm25` so that every backend scores alike;
- what the writers read: each chunk's sentences (:class:`~amqa.types.ChunkSentences`) and the page
  starts of a file.

Implementations: :class:`amqa.index.local.backend.LocalBackend` (the on-disk segments of :mod:`amqa.index.local.store`) and
:class:`amqa.index.memory.MemoryBackend` (exact, in memory, numpy only: the reference the tests compare the
local one with). :func:`amqa.index.memory.compare_backends` checks two backends give the same hits.

The writing side is :class:`amqa.index.planner.IndexWriter`: the planner reads, chunks and embeds, a
backend's writer stores batches and publishes.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from amqa.types import Chunk, ChunkSentences


def language_means(sums: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each language's mean chunk and sentence vector, float32, from their float64 ``sums``
    ``(languages + 1, 2, dim)`` and ``counts`` ``(languages + 1, 2)``; the last row, for a language
    outside :attr:`SearchBackend.languages`, stays zero (no bias). A language without sentences takes
    its chunks' mean. Every backend divides the same way, so that they center alike.

    >>> c, s = language_means(np.array([[[2.0, 4.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]),
    ...                       np.array([[2, 0], [0, 0]]))
    >>> c.tolist(), s.tolist()
    ([[1.0, 2.0], [0.0, 0.0]], [[1.0, 2.0], [0.0, 0.0]])
    """
    n, _, dim = sums.shape
    chunk_c = np.zeros((n, dim), dtype=np.float32)
    sent_c = np.zeros((n, dim), dtype=np.float32)
    for i in range(n - 1):
        chunk_c[i] = sums[i, 0] / max(1, counts[i, 0])
        sent_c[i] = sums[i, 1] / counts[i, 1] if counts[i, 1] else chunk_c[i]
    return chunk_c, sent_c


def best_per_run(default: np.ndarray, sims: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each chunk's best sentence similarity: ``sims`` holds the chunks' sentences' similarities one run
    after another (``sizes[j]`` of them for chunk ``j``); float64, ``default[j]`` for a chunk without one.
    Every backend reduces the same way, after one gather and one product for all the sentences (a
    matrix-vector product rounds by its shape: ties in the fusion break on the last bit).

    >>> best_per_run(np.array([0.5, 0.5, 0.5]), np.array([0.1, 0.9, 0.7]), np.array([2, 0, 1])).tolist()
    [0.9, 0.5, 0.7]
    """
    out = np.array(default, dtype=np.float64).reshape(-1)
    has = sizes > 0
    if len(sims):
        out[has] = np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(sizes)[:-1]])[has])
    return out


@runtime_checkable
class SearchBackend(Protocol):
    """One loaded snapshot of an index, read-only and safe to share between threads."""

    @property
    def chunks(self) -> Sequence[Chunk]:
        """The chunks, by position."""
        ...

    @property
    def languages(self) -> frozenset[str]:
        """Languages that hold at least 5% of the chunks (one misdetected file does not count)."""
        ...

    @property
    def max_idf(self) -> float:
        """The idf of a word no chunk holds."""
        ...

    def position(self, chunk_id: str) -> int:
        """The position of chunk ``chunk_id`` (KeyError when the snapshot has no such chunk)."""
        ...

    def candidates(self, vector: np.ndarray, n: int) -> np.ndarray:
        """Sorted positions of the chunks among the ``n`` nearest ``vector`` and of the chunks holding
        one of the ``n`` nearest sentences (approximate search allowed)."""
        ...

    def dense_parts(self, vector: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each position: (the chunk's similarity to ``vector``, its best sentence's similarity,
        the chunk's own when it has no sentence), exact, float64 or float32."""
        ...

    def language_bias(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per position: ``vector``'s similarity to the mean chunk vector and to the mean sentence
        vector of the chunk's language (0 for a language outside :attr:`languages`)."""
        ...

    def df(self, token: str) -> int:
        """How many chunks hold ``token``."""
        ...

    def idf(self, token: str, unseen: float | None = None) -> float:
        """:meth:`amqa.index.bm25.Bm25Params.idf` of ``token``; for a token no chunk holds, ``unseen`` (default
        :attr:`max_idf`)."""
        ...

    def bm25_top(self, tokens: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, float32 scores) of the ``n`` best positive BM25 scores for ``tokens`` (tokens
        some chunk holds; a repeated token counts again), best first, ties by position."""
        ...

    def best_possible(self, tokens: Sequence[str]) -> float:
        """An upper bound of a chunk's BM25 score for these tokens (unseen ones at :attr:`max_idf`)."""
        ...

    def sentences(self, positions: Sequence[int]) -> tuple[ChunkSentences, ...]:
        """The embedded sentences of each chunk, in document order."""
        ...

    def page_starts(self, source: str) -> tuple[int, ...]:
        """Where each page of ``source`` starts in its text (empty for a format without pages)."""
        ...
