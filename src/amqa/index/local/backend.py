"""The local backend: the on-disk segments of :mod:`amqa.index.local.store`, loaded, behind :class:`~amqa.index.protocol.SearchBackend`.

A :class:`LocalBackend` is built once from the stored :class:`~amqa.index.local.store.IndexData` and only read after
that, so it is safe to share between threads. Its parts:

- :class:`SentenceTable`: the embedded sentences, which chunks hold them, and their similarity to a
  vector (``scores``, ``best_in_chunk``, ``best_per_chunk``);
- :class:`LexicalIndex`: amqa's own BM25 over the chunks (the formulas of :mod:`amqa.index.bm25`, checked
  against bm25s in the tests) from the postings each segment stored, plus the inverse document
  frequencies the writer weighs shared words with.

>>> import tempfile
>>> from amqa.index.local.store import update_index
>>> tmp = tempfile.TemporaryDirectory()
>>> docs, store = Path(tmp.name) / "docs", Path(tmp.name) / "store"
>>> docs.mkdir()
>>> _ = (docs / "a.txt").write_text("The campus opens in Rabat in 2027. It trains engineers.", encoding="utf-8")
>>> backend = LocalBackend(update_index(docs, store, "hash").index)
>>> [c.id for c in backend.chunks], backend.df("rabat"), backend.page_starts("a.txt")
(['a.txt#0'], 1, ())
>>> tmp.cleanup()
"""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from amqa.errors import InvalidInputError
from amqa.index.bm25 import Bm25Params, maxscore_top, top_positions
from amqa.index.local.store import IndexData, LiveRows
from amqa.index.manifest import Manifest
from amqa.index.protocol import best_per_run, language_means
from amqa.text import tokenize
from amqa.types import Chunk, ChunkSentences

#: Kept under its old name for the tests and scripts that import it.
top_rows = top_positions


@dataclass(frozen=True, kw_only=True)
class LocalConfig:
    """Tunables of the local backend.

    ``search_threads``: the approximate searches of a question (chunks and sentences of each large
    segment) run on this many threads at once (FAISS releases the GIL); 1: one after the other.
    """

    search_threads: int = 2
    bm25: Bm25Params = Bm25Params()

    def __post_init__(self) -> None:
        if not isinstance(self.search_threads, int) or self.search_threads < 1:
            raise InvalidInputError(f"search_threads must be an integer >= 1, got {self.search_threads!r}")


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _search_pool(threads: int) -> ThreadPoolExecutor:
    with _pools_lock:
        if threads not in _pools:
            _pools[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="amqa-search")
        return _pools[threads]


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

    A sentence row belongs to every chunk that contains its span (chunks overlap). Rows are read
    from the index's segments when asked for: nothing is built at load time.
    """

    def __init__(self, index: IndexData) -> None:
        self._index = index
        self.keys = index.sentence_keys
        self.vectors = index.sentence_vectors
        self._tokens: dict[int, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, chunk_row: int) -> np.ndarray:
        """The sentence rows of a chunk, in document order."""
        s, local = self._index.chunk_rows.locate_one(chunk_row)
        lo, hi = (int(x) for x in self._index.segments[s].chunk_meta[local, 4:6])
        return self._index.sentence_rows.logical(s, np.arange(lo, hi))

    def chunks_of(self, row: int) -> list[int]:
        """The chunk rows that hold sentence ``row``."""
        s, local = self._index.sentence_rows.locate_one(row)
        lo, hi = (int(x) for x in self._index.segments[s].sent_meta[local, 3:5])
        return self._index.chunk_rows.logical(s, np.arange(lo, hi)).tolist()

    def chunks_of_many(self, rows: np.ndarray) -> np.ndarray:
        """The chunk rows that hold any of the sentence ``rows`` (sorted, each once)."""
        index = self._index
        segs, local = index.sentence_rows.locate(np.asarray(rows, dtype=np.int64))
        found = []
        for s in np.unique(segs).tolist():
            meta = index.segments[s].sent_meta[local[segs == s]]
            found.append(index.chunk_rows.ranges(s, meta[:, 3], meta[:, 4]))
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity of each sentence row to ``vector`` (both L2-normalised)."""
        return self.vectors[rows] @ vector

    def best_in_chunk(self, chunk_row: int, vector: np.ndarray) -> SentenceMatch | None:
        """The chunk's sentence closest to ``vector``, or None when it has no embedded sentence."""
        rows = self.rows(chunk_row)
        if not len(rows):
            return None
        sims = self.scores(vector, rows)
        i = int(np.argmax(sims))
        source, start, end = self.keys[int(rows[i])]
        return SentenceMatch(int(rows[i]), source, start, end, float(sims[i]))

    def rows_of_chunks(self, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of several chunks at once: (all rows concatenated, how many per chunk)."""
        chunk_rows = np.asarray(chunk_rows, dtype=np.int64)
        index = self._index
        segs, local = index.chunk_rows.locate(chunk_rows)
        sizes = np.zeros(len(chunk_rows), dtype=np.int64)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for s in np.unique(segs).tolist():
            m = np.flatnonzero(segs == s)
            meta = index.segments[s].chunk_meta[local[m]]
            lo, hi = meta[:, 4], meta[:, 5]
            sizes[m] = hi - lo
            parts.append((m, index.sentence_rows.ranges(s, lo, hi)))
        if len(parts) == 1:
            return parts[0][1], sizes
        # Back in the order of chunk_rows: each chunk's run goes where its position puts it.
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        out = np.empty(int(sizes.sum()), dtype=np.int64)
        for m, rows in parts:
            at = np.repeat(starts[m] - np.concatenate([[0], np.cumsum(sizes[m])[:-1]]), sizes[m])
            out[at + np.arange(len(rows))] = rows
        return out, sizes

    def best_per_chunk(self, vector: np.ndarray, chunk_rows: np.ndarray, default: np.ndarray) -> np.ndarray:
        """For each chunk row, its best sentence similarity (``default[j]`` when it has none)."""
        rows, sizes = self.rows_of_chunks(chunk_rows)
        if not len(rows):
            return np.array(default, dtype=np.float64).reshape(-1)
        return best_per_run(default, self.scores(vector, rows), sizes)

    def tokens(self, row: int, text: str, language: str) -> frozenset[str]:
        """BM25 tokens of sentence ``row`` (whose text is ``text``), computed once."""
        found = self._tokens.get(row)
        if found is None:
            found = self._tokens[row] = frozenset(tokenize(text, language))
        return found


#: Postings whose BM25 weights a LexicalIndex keeps (12 bytes each: 4M are 48 MB).
WEIGHT_CACHE_POSTINGS = 4_000_000
#: A query word held by at least this many live chunks is scored by :meth:`LexicalIndex.top` only for
#: the chunks its rarer words found, when its bound shows no other chunk can reach the n best (MaxScore,
#: Turtle and Flood 1995). Below it, adding a word's weights to every chunk is cheap; at 1M chunks the
#: bench's questions hold 3-4 words in 70-99% of the chunks, and scoring them everywhere took 21-36 ms
#: a question; this way 10 ms (70 bench questions, alternated; docs/search-measurements.md "Search v3").
LAZY_POSTINGS = 50_000


class LexicalIndex:
    """BM25 over the chunks, from the postings each segment stored when it was written (the
    tokenisation is done once, at indexing), and the inverse document frequency of every token.

    The formula is BM25's Lucene variant (:class:`~amqa.index.bm25.Bm25Params`, float32), the one bm25s
    computes: ``tests/test_segments.py::test_lexical_scores_are_bm25s_scores`` compares the two (bm25s is
    a test dependency only). Scores are computed over the live chunks only: a removed file's words count
    nowhere.
    """

    def __init__(self, index: IndexData, params: Bm25Params = Bm25Params()) -> None:
        self._index = index
        self.params = params
        rows = index.chunk_rows
        self._size = len(rows)
        lengths = [np.asarray(seg.doc_len) if live is None else np.asarray(seg.doc_len)[live]
                   for seg, live in zip(index.segments, rows.live)]
        total = float(sum(int(x.sum(dtype=np.int64)) for x in lengths))
        self._avg_len = total / self._size if self._size else 1.0
        # Per segment, each chunk's length term k1 (1 - b + b len / avg len), dead ones included.
        self._norms = [params.norms(np.asarray(seg.doc_len), self._avg_len) for seg in index.segments]
        self._df: dict[str, int] = {}
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cached = 0
        #: The idf of a word no chunk holds.
        self.max_idf = params.max_idf(self._size)

    def _postings(self, token: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(segment, live chunk rows, term frequencies) of ``token`` in each segment holding it."""
        out = []
        for s, seg in enumerate(self._index.segments):
            found = seg.postings(token)
            if found is None:
                continue
            docs, tf = found
            dead = self._index.chunk_rows.dead[s]
            if dead is not None:
                keep = ~dead[docs]
                docs, tf = docs[keep], tf[keep]
            if len(docs):
                out.append((s, docs, tf))
        return out

    def df(self, token: str) -> int:
        """How many live chunks hold ``token``."""
        found = self._df.get(token)
        if found is None:
            found = self._df[token] = sum(len(d) for _, d, _ in self._postings(token))
        return found

    def idf(self, token: str, unseen: float | None = None) -> float:
        """The token's idf; for a token no chunk holds, ``unseen`` (default :attr:`max_idf`)."""
        d = self.df(token)
        if not d:
            return self.max_idf if unseen is None else unseen
        return self.params.idf(d, self._size)

    def known(self, tokens: Sequence[str]) -> list[str]:
        """The tokens that some chunk holds."""
        return [t for t in tokens if self.df(t)]

    def weights(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The chunk rows holding ``token`` and its BM25 weight in each, computed once per token while
        the cache holds fewer than :data:`WEIGHT_CACHE_POSTINGS` (a common word of a 100k-chunk index
        is in most chunks: its weights took a few ms per question)."""
        found = self._cache.get(token)
        if found is not None:
            return found
        postings = self._postings(token)
        if postings:
            idf = np.float32(self.idf(token))
            rows = np.concatenate([self._index.chunk_rows.logical(s, docs) for s, docs, _ in postings])
            weights = np.concatenate([self.params.weight(idf, tf, self._norms[s][docs]) for s, docs, tf in postings])
        else:
            rows, weights = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._cached + len(rows) <= WEIGHT_CACHE_POSTINGS:
            self._cache[token] = (rows, weights)
            self._cached += len(rows)
        return rows, weights

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk for ``tokens`` (known tokens only, see :meth:`known`)."""
        out = np.zeros(self._size, dtype=np.float32)
        for token in tokens:  # a repeated query word counts again (bm25s, the tests' reference, does too)
            rows, weights = self.weights(token)
            out[rows] += weights
        return out

    def top(self, tokens: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the ``n`` best positive BM25 scores for ``tokens`` (known tokens only), best
        first, ties in row order: exactly ``top_rows(scores(tokens), n)`` and those scores, but words in
        :data:`LAZY_POSTINGS` chunks or more are only scored where they can change the ``n`` best."""
        if any(self.df(t) >= LAZY_POSTINGS for t in tokens):
            found = maxscore_top(self, tokens, n, self._size, LAZY_POSTINGS)
            if found is not None:
                return found
        scores = self.scores(tokens)
        rows = top_rows(scores, n)
        return rows, scores[rows]

    def weights_at(self, token: str, rows: np.ndarray) -> np.ndarray:
        """The BM25 weight of ``token`` in each of the sorted chunk ``rows`` (0 where absent), the same
        float32 values as :meth:`weights`, looked up without computing them for every chunk."""
        out = np.zeros(len(rows), dtype=np.float32)
        cached = self._cache.get(token)
        if cached is not None:
            held, weights = cached
            if len(held):
                at = np.minimum(np.searchsorted(held, rows), len(held) - 1)
                hit = held[at] == rows
                out[hit] = weights[at[hit]]
            return out
        idf = np.float32(self.idf(token))
        index = self._index
        segs, local = index.chunk_rows.locate(rows)
        bounds = np.searchsorted(segs, np.arange(len(index.segments) + 1))  # rows are sorted: runs
        for s in range(len(index.segments)):
            a, b = int(bounds[s]), int(bounds[s + 1])
            found = index.segments[s].postings(token) if b > a else None
            if found is None:
                continue
            docs, tf = found
            wanted = local[a:b]
            at = np.minimum(np.searchsorted(docs, wanted), len(docs) - 1)
            hit = docs[at] == wanted
            out[a:b][hit] = self.params.weight(idf, tf[at[hit]], self._norms[s][wanted[hit]])
        return out

    def best_possible(self, tokens: Sequence[str]) -> float:
        """An upper bound of a chunk's BM25 score for these query tokens (unseen words count at max idf)."""
        return self.params.best_possible([self.idf(t) for t in set(tokens)])


class LocalBackend:
    """The :class:`~amqa.index.protocol.SearchBackend` of a loaded local index: chunks with their vectors, a
    :class:`SentenceTable` and a :class:`LexicalIndex`, read from the store's segments."""

    def __init__(self, index: IndexData, config: LocalConfig = LocalConfig()) -> None:
        self.index = index
        self.config = config
        self.chunks = index.chunks
        self.chunk_vectors = index.chunk_vectors
        self.sentences_table = SentenceTable(index)
        self.lexicon = LexicalIndex(index, config.bm25)
        self.max_idf = self.lexicon.max_idf
        # Where each page starts, per file with pages (an index written before pages were recorded has none).
        self._pages = index.manifest.records.pages()
        # Languages that hold at least 5% of the chunks (one misdetected file does not count).
        counts: Counter[str] = Counter()
        for seg, live in zip(index.segments, index.live_files):
            names, code = seg.language_codes()
            per = np.bincount(code[live], weights=np.diff(seg.src_chunks)[live], minlength=len(names))
            counts.update({name: int(n) for name, n in zip(names, per) if n})
        total = sum(counts.values())
        self.languages = frozenset(lang for lang, n in counts.items() if n >= 0.05 * total)
        self._centroids: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def manifest(self) -> Manifest:
        return self.index.manifest

    # -- SearchBackend ---------------------------------------------------------------------------

    def position(self, chunk_id: str) -> int:
        return self.index.chunk_row(chunk_id)

    def chunk(self, chunk_id: str) -> Chunk:
        return self.chunks[self.index.chunk_row(chunk_id)]

    def candidates(self, vector: np.ndarray, n: int) -> np.ndarray:
        """Chunk rows near ``vector``, directly or through one of their sentences: the ``n`` nearest
        chunks and the chunks of the ``n`` nearest sentences, over every segment (exact search in small
        segments, an approximate index in large ones; dead rows left out)."""
        index = self.index
        chunks, sentences = self._nearest_kinds(vector, n, [("chunks", index.chunk_rows),
                                                            ("sentences", index.sentence_rows)])
        return np.union1d(chunks, self.sentences_table.chunks_of_many(sentences))

    def nearest(self, vector: np.ndarray, kind: str, n: int) -> np.ndarray:
        """Logical rows of the ``n`` live vectors of ``kind`` ("chunks", "sentences") nearest ``vector``."""
        rows = self.index.chunk_rows if kind == "chunks" else self.index.sentence_rows
        return self._nearest_kinds(vector, n, [(kind, rows)])[0]

    def _nearest_kinds(self, vector: np.ndarray, n_wanted: int,
                       kinds: list[tuple[str, LiveRows]]) -> list[np.ndarray]:
        """:meth:`nearest` for each (kind, rows). The searches of large segments (approximate index)
        run on ``config.search_threads`` threads when there are two or more; the rest, each well under
        a millisecond, on the calling thread. Results are merged in segment order, as one thread would."""
        segments = self.index.segments
        tasks = [(i, s) for i in range(len(kinds)) for s in range(len(segments))]
        threads = self.config.search_threads

        def one(i: int, s: int) -> tuple[np.ndarray, np.ndarray]:
            kind, rows = kinds[i]
            local, sim = segments[s].searcher(kind).search(vector, min(n_wanted, len(rows)), rows.dead[s])
            return rows.logical(s, local), sim

        large = [kinds[i][0] in segments[s].ann for i, s in tasks]
        parallel = threads > 1 and sum(large) >= 2
        pending: dict[int, Future] = {}
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for t, (i, s) in enumerate(tasks):
            if parallel and large[t]:
                pending[t] = _search_pool(threads).submit(one, i, s)
            else:
                results[t] = one(i, s)
        for t, future in pending.items():
            results[t] = future.result()
        out = []
        for i, (_, rows) in enumerate(kinds):
            n = min(n_wanted, len(rows))
            mine = [results[t] for t, (j, _) in enumerate(tasks) if j == i]
            if not mine:
                out.append(np.zeros(0, dtype=np.int64))
                continue
            all_rows = np.concatenate([r for r, _ in mine])
            all_sims = np.concatenate([v for _, v in mine])
            if len(all_rows) > n:
                all_rows = all_rows[np.argpartition(-all_sims, n - 1)[:n]]
            out.append(all_rows)
        return out

    def dense_parts(self, vector: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chunk_sim = self.chunk_vectors[positions] @ vector
        return chunk_sim, self.sentences_table.best_per_chunk(vector, positions, chunk_sim)

    def df(self, token: str) -> int:
        return self.lexicon.df(token)

    def idf(self, token: str, unseen: float | None = None) -> float:
        return self.lexicon.idf(token, unseen)

    def bm25_top(self, tokens: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.lexicon.top(tokens, n)

    def best_possible(self, tokens: Sequence[str]) -> float:
        return self.lexicon.best_possible(tokens)

    def sentences(self, positions: Sequence[int]) -> tuple[ChunkSentences, ...]:
        table = self.sentences_table
        out = []
        for position in positions:
            rows = table.rows(int(position))
            chunk = self.chunks[int(position)]
            spans, tokens = [], []
            for row in rows.tolist():
                _, start, end = table.keys[row]
                spans.append((start, end))
                tokens.append(table.tokens(row, chunk.text[start - chunk.start:end - chunk.start], chunk.language))
            out.append(ChunkSentences(spans=tuple(spans), tokens=tuple(tokens), vectors=table.vectors[rows]))
        return tuple(out)

    def page_starts(self, source: str) -> tuple[int, ...]:
        return self._pages.get(source, ())

    def language_bias(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per chunk row: the query's similarity to the mean chunk vector, and to the mean sentence
        vector, of the chunk's language. A multilingual model scores any text in the query's own
        language higher; subtracting these per-language means lets languages compete on content."""
        if self._centroids is None:
            self._centroids = self._language_means()
        lang_of, chunk_c, sent_c = self._centroids
        return (chunk_c @ vector)[lang_of], (sent_c @ vector)[lang_of]

    def _language_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per chunk row its language's position, and the mean chunk and sentence vector of each
        corpus language (then a zero row, the bias of a chunk in another language), from the sums of
        vectors each segment keeps per file: no vector is read."""
        # Means of the corpus languages only; a chunk in another (often misdetected) language gets
        # no bias: a mean of its own would cancel its own similarity.
        langs = sorted(self.languages)
        dim = self.chunk_vectors.shape[1]
        sums = np.zeros((len(langs) + 1, 2, dim), dtype=np.float64)
        counts = np.zeros((len(langs) + 1, 2), dtype=np.int64)
        lang_parts = []
        for seg, live in zip(self.index.segments, self.index.live_files):
            names, code = seg.language_codes()
            position = np.array([langs.index(x) if x in self.languages else len(langs) for x in names] + [-1],
                                dtype=np.int64)
            lang_parts.append(np.repeat(position[np.where(live, code, -1)], np.diff(seg.src_chunks)))
            totals, sizes = seg.language_totals()
            dead = np.flatnonzero(~live)
            for j, name in enumerate(names):  # the segment's sums per language, less its dead files'
                gone = dead[code[dead] == j]
                sums[position[j]] += totals[j] - np.asarray(seg.src_sums[gone], dtype=np.float64).sum(axis=0)
                counts[position[j]] += sizes[j] - np.stack([np.diff(seg.src_chunks)[gone],
                                                            np.diff(seg.src_sents)[gone]], axis=1).sum(axis=0)
        lang_of = np.concatenate(lang_parts) if lang_parts else np.zeros(0, dtype=np.int64)
        lang_of = lang_of[lang_of >= 0]
        chunk_c, sent_c = language_means(sums, counts)
        return lang_of, chunk_c, sent_c
