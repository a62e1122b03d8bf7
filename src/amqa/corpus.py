"""The loaded index as the answering stages read it: chunks, their sentences, and BM25 statistics.

A :class:`Corpus` is built once from the stored :class:`~amqa.store.IndexData` and only read after
that, so it is safe to share between threads. Retrieval, the answer writers, the LLM verifier and the
evaluation all go through its declared methods:

- :class:`SentenceTable`: the embedded sentences, which chunks hold them, and their similarity to a
  vector (``scores``, ``best_in_chunk``, ``best_per_chunk``);
- :class:`LexicalIndex`: BM25 over the chunks (bm25s) plus the inverse document frequencies the
  writer weighs shared words with.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .readers import page_at
from .store import IndexData
from .text import tokenize
from .types import Chunk, Citation


@dataclass(frozen=True)
class SentenceMatch:
    """A sentence's span in its document and its similarity to the vector it was scored against."""

    row: int
    source: str
    start: int
    end: int
    similarity: float


class SentenceTable:
    """The embedded sentences: vectors, ``(source, start, end)`` keys, and rows per chunk.

    A sentence row belongs to every chunk that contains its span (chunks overlap).
    """

    def __init__(self, keys: Sequence[tuple[str, int, int]], vectors: np.ndarray, chunks: Sequence[Chunk]) -> None:
        self.keys = list(keys)
        self.vectors = vectors
        row_of = {key: i for i, key in enumerate(self.keys)}
        self._rows: list[np.ndarray] = []
        self._chunks_of: list[list[int]] = [[] for _ in self.keys]
        for ci, c in enumerate(chunks):
            rows = [row_of[k] for s in c.sentences if (k := (c.source, s.start, s.end)) in row_of]
            self._rows.append(np.array(rows, dtype=np.int64))
            for r in rows:
                self._chunks_of[r].append(ci)
        self._tokens: dict[int, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, chunk_row: int) -> np.ndarray:
        """The sentence rows of a chunk, in document order."""
        return self._rows[chunk_row]

    def chunks_of(self, row: int) -> list[int]:
        """The chunk rows that hold sentence ``row``."""
        return self._chunks_of[row]

    def scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity of each sentence row to ``vector`` (both L2-normalised)."""
        return self.vectors[rows] @ vector

    def best_in_chunk(self, chunk_row: int, vector: np.ndarray) -> SentenceMatch | None:
        """The chunk's sentence closest to ``vector``, or None when it has no embedded sentence."""
        rows = self._rows[chunk_row]
        if not len(rows):
            return None
        sims = self.scores(vector, rows)
        i = int(np.argmax(sims))
        source, start, end = self.keys[rows[i]]
        return SentenceMatch(int(rows[i]), source, start, end, float(sims[i]))

    def best_per_chunk(self, vector: np.ndarray, chunk_rows: np.ndarray, default: np.ndarray) -> np.ndarray:
        """For each chunk row, its best sentence similarity (``default[j]`` when it has none)."""
        return np.array([float(self.scores(vector, rows).max()) if len(rows := self._rows[ci]) else float(default[j])
                         for j, ci in enumerate(chunk_rows)])

    def tokens(self, row: int, text: str, language: str) -> frozenset[str]:
        """BM25 tokens of sentence ``row`` (whose text is ``text``), computed once."""
        found = self._tokens.get(row)
        if found is None:
            found = self._tokens[row] = frozenset(tokenize(text, language))
        return found


class LexicalIndex:
    """BM25 (bm25s) over chunk tokens, and the inverse document frequency of every token."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        corpus = [tokenize(c.text, c.language) or [""] for c in chunks]
        self._bm25 = bm25s.BM25()
        self._size = len(corpus)
        if corpus:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = self._bm25.vocab_dict if corpus else {}
        df: Counter[str] = Counter(t for tokens in corpus for t in set(tokens))
        n = len(corpus)
        self._idf = {t: float(np.log(1 + (n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        #: The idf of a word no chunk holds.
        self.max_idf = float(np.log(1 + (n + 0.5) / 0.5))
        self.k1 = float(self._bm25.k1)

    def idf(self, token: str, unseen: float | None = None) -> float:
        """The token's idf; for a token no chunk holds, ``unseen`` (default :attr:`max_idf`)."""
        return self._idf.get(token, self.max_idf if unseen is None else unseen)

    def known(self, tokens: Sequence[str]) -> list[str]:
        """The tokens that some chunk holds."""
        return [t for t in tokens if t in self._vocab]

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for ``tokens`` (known tokens only, see :meth:`known`)."""
        if not self._size:
            return np.zeros(0, dtype=np.float32)
        return self._bm25.get_scores(list(tokens))

    def best_possible(self, tokens: Sequence[str]) -> float:
        """An upper bound of a chunk's BM25 score for these query tokens (unseen words count at max idf)."""
        return (self.k1 + 1) * sum(self.idf(t) for t in set(tokens))


class Corpus:
    """A loaded index: chunks with their vectors, a :class:`SentenceTable` and a :class:`LexicalIndex`."""

    def __init__(self, index: IndexData) -> None:
        self.index = index
        self.chunks: list[Chunk] = index.chunks
        self.chunk_vectors = index.chunk_vectors
        self.sentences = SentenceTable(index.sentence_keys, index.sentence_vectors, index.chunks)
        self.lexicon = LexicalIndex(index.chunks)
        self._row_of_chunk = {c.id: i for i, c in enumerate(self.chunks)}
        # Where each page starts, per file with pages (an index written before pages were recorded has none).
        self._pages = {source: tuple(info["pages"]) for source, info in index.files.items() if info.get("pages")}
        # Languages that hold at least 5% of the chunks (one misdetected chunk does not count).
        counts = Counter(c.language for c in self.chunks)
        self.languages = frozenset(lang for lang, n in counts.items() if n >= 0.05 * len(self.chunks))
        self._centroids: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def manifest(self) -> dict:
        return self.index.manifest

    def language_bias(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per chunk row: the query's similarity to the mean chunk vector, and to the mean sentence
        vector, of the chunk's language. A multilingual model scores any text in the query's own
        language higher; subtracting these per-language means lets languages compete on content."""
        if self._centroids is None:
            # Means of the corpus languages only; a chunk in another (often misdetected) language gets
            # no bias: a mean of its own would cancel its own similarity.
            langs = sorted(self.languages)
            lang_of = np.array([langs.index(c.language) if c.language in self.languages else len(langs)
                                for c in self.chunks])
            dim = self.chunk_vectors.shape[1]
            chunk_c = np.stack([self.chunk_vectors[lang_of == i].mean(axis=0) for i in range(len(langs))]
                               + [np.zeros(dim, dtype=np.float32)])
            rows_lang = np.full(len(self.sentences), len(langs))
            for ci, li in enumerate(lang_of):
                rows_lang[self.sentences.rows(ci)] = li
            sent_c = np.stack([self.sentences.vectors[rows_lang == i].mean(axis=0) if (rows_lang == i).any()
                               else chunk_c[i] for i in range(len(langs))] + [np.zeros(dim, dtype=np.float32)])
            self._centroids = (lang_of, chunk_c, sent_c)
        lang_of, chunk_c, sent_c = self._centroids
        return (chunk_c @ vector)[lang_of], (sent_c @ vector)[lang_of]

    def page_at(self, source: str, offset: int) -> int | None:
        """The 1-based page (or slide) of ``source`` holding character ``offset``; None for a file
        without pages."""
        return page_at(self._pages.get(source, ()), offset)

    def with_pages(self, citations: Sequence[Citation]) -> tuple[Citation, ...]:
        """The citations with the page where each quote starts."""
        return tuple(replace(c, page=self.page_at(c.source, c.start)) for c in citations)

    def chunk_row(self, chunk_id: str) -> int:
        return self._row_of_chunk[chunk_id]

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[self._row_of_chunk[chunk_id]]
