"""An exact in-memory :class:`~amqa.index.protocol.SearchBackend`, numpy only: the second backend.

It holds every vector in one array and searches by brute force, so it is the reference the local
backend's approximate segments are compared with (:func:`compare_backends`, after qdrant-client's
``compare_client_results``), and the template of a new backend: one module, one entry in
:data:`amqa.index.factory.BACKENDS`.

>>> from amqa.embedders import get_embedder
>>> from amqa.types import Document
>>> emb = get_embedder("hash")
>>> doc = Document("a.txt", "A", "The campus opens in Rabat in 2027. It will train many engineers.", "en", "0")
>>> backend = MemoryBackend.build([doc], emb)
>>> [c.id for c in backend.chunks], backend.df("rabat"), len(backend.sentences([0])[0])
(['a.txt#0'], 1, 2)
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from amqa.embedders import Embedder
from amqa.index.bm25 import Bm25Params, top_positions
from amqa.index.planner import plan_document
from amqa.index.protocol import best_per_run, language_means
from amqa.ingest.chunking import ChunkSettings
from amqa.text import tokenize
from amqa.types import Chunk, ChunkSentences, Document, Hit


class MemoryBackend:
    """Chunks, sentences and their vectors in memory; exact search; BM25 by :mod:`amqa.index.bm25`."""

    def __init__(self, chunks: Sequence[Chunk], chunk_vectors: np.ndarray,
                 sentence_spans: Sequence[tuple[str, int, int]], sentence_vectors: np.ndarray, *,
                 pages: dict[str, tuple[int, ...]] | None = None, bm25: Bm25Params = Bm25Params()) -> None:
        if len(chunks) != len(chunk_vectors) or len(sentence_spans) != len(sentence_vectors):
            raise ValueError(f"{len(chunks)} chunks for {len(chunk_vectors)} vectors, or {len(sentence_spans)} "
                             f"sentences for {len(sentence_vectors)} vectors")
        self.chunks = list(chunks)
        self.chunk_vectors = np.asarray(chunk_vectors, dtype=np.float32)
        self.sentence_vectors = np.asarray(sentence_vectors, dtype=np.float32)
        self._spans = list(sentence_spans)
        self._pages = dict(pages or {})
        self._ids = {c.id: i for i, c in enumerate(self.chunks)}
        # Each chunk's sentences: the embedded spans inside it, in document order.
        by_source: dict[str, list[int]] = {}
        for row, (source, _, _) in enumerate(self._spans):
            by_source.setdefault(source, []).append(row)
        self._chunk_sentences: list[np.ndarray] = []
        for c in self.chunks:
            inside = [r for r in by_source.get(c.source, ()) if c.start <= self._spans[r][1] and self._spans[r][2] <= c.end]
            self._chunk_sentences.append(np.array(sorted(inside, key=lambda r: self._spans[r][1]), dtype=np.int64))
        self._sentence_chunks: list[list[int]] = [[] for _ in self._spans]
        for position, held in enumerate(self._chunk_sentences):
            for r in held.tolist():
                self._sentence_chunks[r].append(position)
        # BM25 statistics, tokenised as the local backend's indexing does.
        self.params = bm25
        self._tf = [Counter(tokenize(c.text, c.language)) for c in self.chunks]
        lengths = np.array([sum(tf.values()) or 1 for tf in self._tf])  # an empty chunk counts one token
        self._norms = bm25.norms(lengths, float(lengths.sum()) / len(lengths) if len(lengths) else 1.0)
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for position, tf in enumerate(self._tf):
            for token, count in tf.items():
                self._postings.setdefault(token, []).append((position, count))
        self.max_idf = bm25.max_idf(len(self.chunks))
        counts = Counter(c.language for c in self.chunks)
        self.languages = frozenset(lang for lang, n in counts.items() if n >= 0.05 * len(self.chunks))
        self._tokens: dict[int, frozenset[str]] = {}
        self._means: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, documents: Sequence[Document], embedder: Embedder,
              settings: ChunkSettings = ChunkSettings()) -> "MemoryBackend":
        """Chunk and embed ``documents`` as the local index does (:func:`amqa.index.planner.plan_document`)."""
        chunks: list[Chunk] = []
        spans: list[tuple[str, int, int]] = []
        texts: list[str] = []
        chunk_rows: list[int] = []
        sentence_rows: list[int] = []
        pages = {}
        for doc in documents:
            plan = plan_document(doc, settings)
            planned, sentences = list(plan.chunks), list(plan.sentences)
            chunk_rows += range(len(texts), len(texts) + len(planned))
            sentence_rows += range(len(texts) + len(planned), len(texts) + len(planned) + len(sentences))
            chunks += planned
            spans += [(doc.source, a, b) for a, b in sentences]
            texts += [c.text for c in planned] + [doc.text[a:b] for a, b in sentences]
            if doc.pages:
                pages[doc.source] = tuple(doc.pages)
        vectors = embedder.embed(texts, "passage") if texts else np.zeros((0, embedder.dim), np.float32)
        return cls(chunks, vectors[chunk_rows], spans, vectors[sentence_rows], pages=pages)

    # -- SearchBackend ---------------------------------------------------------------------------

    def position(self, chunk_id: str) -> int:
        return self._ids[chunk_id]

    def candidates(self, vector: np.ndarray, n: int) -> np.ndarray:
        near_chunks = _nearest(self.chunk_vectors @ vector, n)
        near_sentences = _nearest(self.sentence_vectors @ vector, n)
        held = [p for r in near_sentences.tolist() for p in self._sentence_chunks[r]]
        return np.union1d(near_chunks, np.array(held, dtype=np.int64))

    def dense_parts(self, vector: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chunk_sim = self.chunk_vectors[positions] @ vector
        held = [self._chunk_sentences[p] for p in np.asarray(positions).tolist()]
        sizes = np.array([len(h) for h in held], dtype=np.int64)
        sims = self.sentence_vectors[np.concatenate(held)] @ vector if sizes.sum() else np.zeros(0)
        return chunk_sim, best_per_run(chunk_sim, sims, sizes)

    def language_bias(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._means is None:
            self._means = self._language_means()
        lang_of, chunk_c, sent_c = self._means
        return (chunk_c @ vector)[lang_of], (sent_c @ vector)[lang_of]

    def _language_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per position its language's row, and each language's mean chunk and sentence vector (a zero
        row last, for a language outside :attr:`languages`). Summed as the local store sums them (per
        file in float64, kept in float32, added in float64) so that both backends center alike."""
        langs = sorted(self.languages)
        dim = self.chunk_vectors.shape[1]
        sums = np.zeros((len(langs) + 1, 2, dim), dtype=np.float64)
        counts = np.zeros((len(langs) + 1, 2), dtype=np.int64)
        lang_of = np.array([langs.index(c.language) if c.language in self.languages else len(langs)
                            for c in self.chunks], dtype=np.int64)
        files: dict[str, tuple[list[int], str]] = {}
        for p, c in enumerate(self.chunks):
            files.setdefault(c.source, ([], c.language))[0].append(p)
        for source, (positions, language) in files.items():
            i = langs.index(language) if language in self.languages else len(langs)
            rows = [r for r, (s, _, _) in enumerate(self._spans) if s == source]
            sums[i, 0] += np.asarray(self.chunk_vectors[positions], np.float64).sum(axis=0).astype(np.float32)
            if rows:
                sums[i, 1] += np.asarray(self.sentence_vectors[rows], np.float64).sum(axis=0).astype(np.float32)
            counts[i] += (len(positions), len(rows))
        chunk_c, sent_c = language_means(sums, counts)
        return lang_of, chunk_c, sent_c

    def df(self, token: str) -> int:
        return len(self._postings.get(token, ()))

    def idf(self, token: str, unseen: float | None = None) -> float:
        d = self.df(token)
        if not d:
            return self.max_idf if unseen is None else unseen
        return self.params.idf(d, len(self.chunks))

    def bm25_top(self, tokens: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        for token in tokens:  # a repeated word counts again
            postings = self._postings.get(token)
            if not postings:
                continue
            where = np.array([p for p, _ in postings])
            tf = np.array([c for _, c in postings])
            scores[where] += self.params.weight(np.float32(self.idf(token)), tf, self._norms[where])
        best = top_positions(scores, n)
        return best, scores[best]

    def best_possible(self, tokens: Sequence[str]) -> float:
        return self.params.best_possible([self.idf(t) for t in set(tokens)])

    def sentences(self, positions: Sequence[int]) -> tuple[ChunkSentences, ...]:
        out = []
        for p in positions:
            chunk, rows = self.chunks[int(p)], self._chunk_sentences[int(p)]
            spans = tuple((self._spans[r][1], self._spans[r][2]) for r in rows.tolist())
            tokens = []
            for r, (a, b) in zip(rows.tolist(), spans):
                if r not in self._tokens:
                    self._tokens[r] = frozenset(tokenize(chunk.text[a - chunk.start:b - chunk.start], chunk.language))
                tokens.append(self._tokens[r])
            out.append(ChunkSentences(spans=spans, tokens=tuple(tokens), vectors=self.sentence_vectors[rows]))
        return tuple(out)

    def page_starts(self, source: str) -> tuple[int, ...]:
        return self._pages.get(source, ())


def _nearest(similarities: np.ndarray, n: int) -> np.ndarray:
    """The positions of the ``n`` highest similarities (any order)."""
    if len(similarities) <= n:
        return np.arange(len(similarities))
    return np.argpartition(-similarities, n - 1)[:n]


@dataclass(frozen=True)
class BackendDifference:
    """Where two backends disagreed on one question."""

    question: str
    ids: tuple[tuple[str, ...], tuple[str, ...]]
    worst_score_gap: float


def compare_backends(results_a: Sequence[Sequence[Hit]], results_b: Sequence[Sequence[Hit]], questions: Sequence[str],
                     *, score_tolerance: float = 1e-4) -> list[BackendDifference]:
    """The questions whose hits differ between two backends: other chunk ids or order, or a dense or
    BM25 score further apart than ``score_tolerance`` (the approximate and exact searches round
    differently). Empty when they agree, as qdrant-client's ``compare_client_results`` checks."""
    out = []
    for q, a, b in zip(questions, results_a, results_b, strict=True):
        ids = (tuple(h.chunk.id for h in a), tuple(h.chunk.id for h in b))
        gaps = [abs((x or 0.0) - (y or 0.0)) for ha, hb in zip(a, b)
                for x, y in ((ha.dense_score, hb.dense_score), (ha.bm25_score, hb.bm25_score), (ha.score, hb.score))]
        worst = max(gaps, default=0.0)
        if ids[0] != ids[1] or worst > score_tolerance:
            out.append(BackendDifference(question=q, ids=ids, worst_score_gap=worst))
    return out
