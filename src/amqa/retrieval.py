"""Hybrid retrieval: dense (chunk and sentence vectors, FAISS) plus BM25, fused by weighted RRF.

>>> import tempfile
>>> from amqa.embedders import get_embedder
>>> from amqa.settings import bundled_seeds
>>> from amqa.store import load_index, update_index
>>> store, embedder = tempfile.TemporaryDirectory(), get_embedder("hash")   # no model: the hash test embedder
>>> _ = update_index(bundled_seeds(), store.name, embedder)
>>> searcher = Searcher(Corpus(load_index(store.name, embedder)), embedder)
>>> result = searcher.search("Où ouvre le campus marocain ?", k=3)
>>> [h.rank for h in result.hits], result.hits[0].chunk.source
([1, 2, 3], '000_c8fb014e83a46547.txt')
>>> store.cleanup()
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .corpus import Corpus
from .embedders import Embedder
from .fusion import Ranking, weighted_rrf
from .store import LiveRows
from .text import detect_language, tokenize
from .threads import one_blas_thread
from .types import Hit, Query, SearchResult

# Fusion, measured on XQuAD and on eval/questions.jsonl (see eval/README.md, "Tuning"). Plain RRF lets
# BM25 drag cross-lingual questions to same-language chunks (XQuAD es->en recall@1 fell from 0.915 to
# 0.53; seeds cross-lingual from 0.87 to 0.0). So BM25's vote is weighted by how much of the question
# a chunk matches: its score over the question's best possible score, saturating at BM25_FULL.
RRF_K = 10
BM25_WEIGHT = 0.5
BM25_FULL = 0.5
SENTENCE_WEIGHT = 1.0
CANDIDATES = 100
# A multilingual model scores text in the question's own language higher whatever it says: the dense
# scores lose LANGUAGE_CENTERING x the question's similarity to the mean vector of each chunk's language
# (only when the documents mix languages). 0.5: Debian recall@1 0.821 -> 0.929 (cross-lingual 0.643 ->
# 0.857), key facts 0.643 -> 0.661; seeds citation recall 0.947 -> 0.965, key facts 0.868 -> 0.877 but
# recall@1 0.965 -> 0.947 (one question); 1.0 costs the seeds more (recall@1 0.930). XQuAD: one language.
LANGUAGE_CENTERING = 0.5
# The approximate searches of a question (chunks and sentences of each large segment) run on this
# many threads at once (FAISS releases the GIL); 1: one after the other. See Searcher._nearest_kinds.
SEARCH_THREADS = 2

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=SEARCH_THREADS, thread_name_prefix="amqa-search")
        return _pool


class Searcher:
    """Searches one :class:`Corpus`. Thread-safe: it only reads after construction."""

    def __init__(self, corpus: Corpus, embedder: Embedder) -> None:
        self.corpus = corpus
        self.embedder = embedder

    def query(self, question: str, language: str | None = None) -> Query:
        """Embed and tokenise a question once, for retrieval and for the writers."""
        language = language or detect_language(question)
        return Query(text=question, vector=self.embedder.embed([question], "query")[0],
                     tokens=tuple(tokenize(question, language)), language=language)

    def search(self, question: str | Query, k: int = 5) -> SearchResult:
        """The ``k`` best chunks for the question, with the query they were found for."""
        query = question if isinstance(question, Query) else self.query(question)
        with one_blas_thread():  # small products: a second BLAS thread only waits on busy cores
            return self._search(query, k)

    def _search(self, query: Query, k: int) -> SearchResult:
        chunks = self.corpus.chunks
        has_language = query.language in self.corpus.languages
        if not chunks:
            return SearchResult(hits=(), query=query, corpus_has_language=has_language)
        cand = self._dense_candidates(query.vector)
        chunk_sim, sentence_sim = self.dense_parts(query.vector, cand)
        dense = chunk_sim + sentence_sim
        dense_score = {int(cand[i]): float(dense[i]) for i in range(len(cand))}
        if LANGUAGE_CENTERING and len(self.corpus.languages) > 1:
            chunk_bias, sentence_bias = self.corpus.language_bias(query.vector)
            chunk_sim = chunk_sim - LANGUAGE_CENTERING * chunk_bias[cand]
            sentence_sim = sentence_sim - LANGUAGE_CENTERING * sentence_bias[cand]
            dense = chunk_sim + sentence_sim
        dense_order = [int(cand[i]) for i in np.argsort(-dense, kind="stable")]
        # The best single sentence votes too: a precise sentence in a loosely related chunk
        # ("1,000 apprentices are ..." among news items) must still reach the answer writer.
        sentence_order = [int(cand[i]) for i in np.argsort(-sentence_sim, kind="stable")]
        bm25_order, bm25_weights, bm25_score = self._bm25_ranking(query)
        missing = [ci for ci in bm25_order if ci not in dense_score]
        if missing:
            dense_score.update(zip(missing, self.dense_scores(query.vector, np.array(missing)).tolist()))
        fused = weighted_rrf([Ranking(dense_order), Ranking(sentence_order, SENTENCE_WEIGHT),
                              Ranking(bm25_order, bm25_weights)], k=RRF_K)
        top = sorted(fused, key=lambda ci: (-fused[ci], ci))[:k]
        dense_rank = {ci: r + 1 for r, ci in enumerate(dense_order)}
        bm25_rank = {ci: r + 1 for r, ci in enumerate(bm25_order)}
        hits = tuple(
            Hit(chunk=chunks[ci], rank=r + 1, score=float(fused[ci]), dense_score=dense_score.get(ci),
                dense_rank=dense_rank.get(ci), bm25_score=bm25_score.get(ci), bm25_rank=bm25_rank.get(ci))
            for r, ci in enumerate(top)
        )
        return SearchResult(hits=hits, query=query, corpus_has_language=has_language)

    def _dense_candidates(self, vector: np.ndarray) -> np.ndarray:
        """Chunk rows near the question, directly or through one of their sentences: the
        :data:`CANDIDATES` nearest chunks and the chunks of the :data:`CANDIDATES` nearest sentences,
        over every segment (exact search in small segments, an approximate index in large ones; dead rows
        left out)."""
        index = self.corpus.index
        chunks, sentences = self._nearest_kinds(vector, [("chunks", index.chunk_rows),
                                                         ("sentences", index.sentence_rows)])
        return np.union1d(chunks, self.corpus.sentences.chunks_of_many(sentences))

    def _nearest(self, vector: np.ndarray, kind: str, rows: LiveRows) -> np.ndarray:
        """Logical rows of the :data:`CANDIDATES` live vectors of ``kind`` nearest ``vector``."""
        return self._nearest_kinds(vector, [(kind, rows)])[0]

    def _nearest_kinds(self, vector: np.ndarray, kinds: list[tuple[str, LiveRows]]) -> list[np.ndarray]:
        """:meth:`_nearest` for each (kind, rows). The searches of large segments (approximate index)
        run on :data:`SEARCH_THREADS` threads when there are two or more; the rest, each well under a
        millisecond, on the calling thread. Results are merged in segment order, as one thread would."""
        segments = self.corpus.index.segments
        tasks = [(i, s) for i in range(len(kinds)) for s in range(len(segments))]

        def one(i: int, s: int) -> tuple[np.ndarray, np.ndarray]:
            kind, rows = kinds[i]
            local, sim = segments[s].searcher(kind).search(vector, min(CANDIDATES, len(rows)), rows.dead[s])
            return rows.logical(s, local), sim

        large = [kinds[i][0] in segments[s].ann for i, s in tasks]
        parallel = SEARCH_THREADS > 1 and sum(large) >= 2
        pending: dict[int, Future] = {}
        results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for t, (i, s) in enumerate(tasks):
            if parallel and large[t]:
                pending[t] = _search_pool().submit(one, i, s)
            else:
                results[t] = one(i, s)
        for t, future in pending.items():
            results[t] = future.result()
        out = []
        for i, (_, rows) in enumerate(kinds):
            n = min(CANDIDATES, len(rows))
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

    def _bm25_ranking(self, query: Query) -> tuple[list[int], list[float], dict[int, float]]:
        """BM25's ranking, each vote weighted by the share of the question the chunk matches."""
        lexicon = self.corpus.lexicon
        tokens = lexicon.known(query.tokens)
        if not tokens:
            return [], [], {}
        rows, scores = lexicon.top(tokens, CANDIDATES)
        # Words absent from the corpus (often: words of another language) count in the best score.
        best_possible = lexicon.best_possible(query.tokens)
        order, values = rows.tolist(), scores.tolist()
        weights = [BM25_WEIGHT * min(1.0, v / best_possible / BM25_FULL) for v in values]
        return order, weights, dict(zip(order, values))

    def dense_scores(self, vector: np.ndarray, chunk_rows: np.ndarray) -> np.ndarray:
        """Chunk similarity plus its best sentence's similarity: whole-passage context and a sharp
        match both count (XQuAD en/en recall@1: 0.937 passage alone, 0.965 combined)."""
        chunk_sim, best_sentence = self.dense_parts(vector, chunk_rows)
        return chunk_sim + best_sentence

    def dense_parts(self, vector: np.ndarray, chunk_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunk similarity, best sentence similarity) for each chunk row."""
        chunk_sim = self.corpus.chunk_vectors[chunk_rows] @ vector
        return chunk_sim, self.corpus.sentences.best_per_chunk(vector, chunk_rows, chunk_sim)
