"""Hybrid retrieval over any :class:`~amqa.index.protocol.SearchBackend`: dense (chunk and sentence vectors)
plus BM25, fused by weighted RRF, with language centering.

>>> import tempfile
>>> from amqa.embedders import get_embedder
>>> from amqa.index.local.backend import LocalBackend
>>> from amqa.settings import bundled_seeds
>>> from amqa.index.local.store import load_index, update_index
>>> store, embedder = tempfile.TemporaryDirectory(), get_embedder("hash")   # no model: the hash test embedder
>>> _ = update_index(bundled_seeds(), store.name, embedder)
>>> searcher = Searcher(LocalBackend(load_index(store.name, embedder)), embedder)
>>> result = searcher.search("Où ouvre le campus marocain ?", k=3)
>>> [h.rank for h in result.hits], result.hits[0].chunk.source
([1, 2, 3], '000_c8fb014e83a46547.txt')
>>> store.cleanup()
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from amqa.embedders import Embedder
from amqa.errors import InvalidInputError
from amqa.index.protocol import SearchBackend
from amqa.retrieval.fusion import Ranking, weighted_rrf
from amqa.text import detect_language, tokenize
from amqa.threads import one_blas_thread
from amqa.types import Hit, Query, SearchResult


@dataclass(frozen=True, kw_only=True)
class RetrievalConfig:
    """The fusion's tunables, measured on XQuAD and on eval/questions.jsonl (eval/README.md, "Tuning").

    Plain RRF lets BM25 drag cross-lingual questions to same-language chunks (XQuAD es->en recall@1
    fell from 0.915 to 0.53; seeds cross-lingual from 0.87 to 0.0). So BM25's vote (``bm25_weight``)
    is weighted by how much of the question a chunk matches: its score over the question's best
    possible score, saturating at ``bm25_full``. ``sentence_weight``: the vote of the best single
    sentence (0.5, was 1.0: on the real collections the sentence vote is the weakest retriever and pulled
    the fused ranking below dense alone, bench/crosslingual.py; eval/xling_heldout.py, chosen for every
    held-out collection among 1.0/0.75/0.5: key facts / right source python 0.574/0.870 -> 0.593/0.889,
    libreoffice 0.537/0.815 -> 0.537/0.833, manpages 0.199/0.811 -> 0.213/0.838, debian 0.893/0.946 ->
    0.893/0.946, mean 0.551/0.861 -> 0.559/0.877; seeds and follow-ups unchanged; XQuAD first citation
    en/en 0.953, es/en 0.895 unchanged, answer holds gold 0.924 -> 0.923 and 0.887 -> 0.886; manpages
    answerable -> "nothing found" 0 -> 1 of 74). ``candidates``: how many nearest chunks, nearest
    sentences and BM25 chunks are fused (200 gave the same results as 100 on these collections).

    ``language_centering``: a multilingual model scores text in the question's own language higher
    whatever it says: the dense scores lose this times the question's similarity to the mean vector of
    each chunk's language (only when the documents mix languages). 0.5: Debian recall@1 0.821 -> 0.929
    (cross-lingual 0.643 -> 0.857), key facts 0.643 -> 0.661; seeds citation recall 0.947 -> 0.965, key
    facts 0.868 -> 0.877 but recall@1 0.965 -> 0.947 (one question); 1.0 costs the seeds more (recall@1
    0.930). XQuAD: one language.
    """

    rrf_k: int = 10
    bm25_weight: float = 0.5
    bm25_full: float = 0.5
    sentence_weight: float = 0.5
    candidates: int = 100
    language_centering: float = 0.5

    def __post_init__(self) -> None:
        if self.rrf_k < 1 or self.candidates < 1:
            raise InvalidInputError(f"rrf_k and candidates must be >= 1, got {self.rrf_k!r}, {self.candidates!r}")
        if self.bm25_full <= 0:
            raise InvalidInputError(f"bm25_full must be > 0, got {self.bm25_full!r}")


class Retriever(Protocol):
    """One more vote in the fusion: a ranking of chunk positions for a query (e.g. a sparse head's,
    bench/crosslingual.py --sparse), best first, with its weight in the RRF."""

    def ranking(self, query: Query, n: int) -> Ranking:
        """The ``n`` best chunk positions for ``query`` and this retriever's RRF weight."""
        ...


class Searcher:
    """Searches one backend. Thread-safe: it only reads after construction. ``extra``: retrievers
    whose rankings are fused with the dense, sentence and BM25 ones."""

    def __init__(self, backend: SearchBackend, embedder: Embedder, config: RetrievalConfig = RetrievalConfig(),
                 extra: Sequence[Retriever] = ()) -> None:
        self.backend = backend
        self.embedder = embedder
        self.config = config
        self.extra = tuple(extra)

    def query(self, question: str, language: str | None = None) -> Query:
        """Embed and tokenise a question once, for retrieval and for the writers."""
        language = language or detect_language(question)
        return Query(text=question, vector=self.embedder.embed([question], "query")[0],
                     tokens=tuple(tokenize(question, language)), language=language)

    def search(self, question: str | Query, k: int = 5) -> SearchResult:
        """The ``k`` best chunks for the question, with the query they were found for and what the
        answer writers read of the index (each hit's sentences, the question words' idf, page starts)."""
        query = question if isinstance(question, Query) else self.query(question)
        with one_blas_thread():  # small products: a second BLAS thread only waits on busy cores
            return self._search(query, k)

    def _search(self, query: Query, k: int) -> SearchResult:
        backend, cfg = self.backend, self.config
        chunks = backend.chunks
        has_language = query.language in backend.languages
        idf = {t: backend.idf(t) for t in query.tokens if backend.df(t)}
        if not chunks:
            return SearchResult(hits=(), query=query, corpus_has_language=has_language, idf=idf,
                                unseen_idf=backend.max_idf)
        cand = backend.candidates(query.vector, cfg.candidates)
        chunk_sim, sentence_sim = backend.dense_parts(query.vector, cand)
        dense = chunk_sim + sentence_sim
        dense_score = {int(cand[i]): float(dense[i]) for i in range(len(cand))}
        if cfg.language_centering and len(backend.languages) > 1:
            chunk_bias, sentence_bias = backend.language_bias(query.vector)
            chunk_sim = chunk_sim - cfg.language_centering * chunk_bias[cand]
            sentence_sim = sentence_sim - cfg.language_centering * sentence_bias[cand]
            dense = chunk_sim + sentence_sim
        dense_order = [int(cand[i]) for i in np.argsort(-dense, kind="stable")]
        # The best single sentence votes too: a precise sentence in a loosely related chunk
        # ("1,000 apprentices are ..." among news items) must still reach the answer writer.
        sentence_order = [int(cand[i]) for i in np.argsort(-sentence_sim, kind="stable")]
        bm25_order, bm25_weights, bm25_score = self._bm25_ranking(query)
        extra = [r.ranking(query, cfg.candidates) for r in self.extra]
        missing = list(dict.fromkeys(ci for ids in [bm25_order, *(e.ids for e in extra)] for ci in ids
                                     if ci not in dense_score))
        if missing:
            dense_score.update(zip(missing, self.dense_scores(query.vector, np.array(missing)).tolist()))
        fused = weighted_rrf([Ranking(dense_order), Ranking(sentence_order, cfg.sentence_weight),
                              Ranking(bm25_order, bm25_weights), *extra], k=cfg.rrf_k)
        top = sorted(fused, key=lambda ci: (-fused[ci], ci))[:k]
        dense_rank = {ci: r + 1 for r, ci in enumerate(dense_order)}
        bm25_rank = {ci: r + 1 for r, ci in enumerate(bm25_order)}
        sentences = backend.sentences(top)
        hits = tuple(
            Hit(chunk=chunks[ci], rank=r + 1, score=float(fused[ci]), dense_score=dense_score.get(ci),
                dense_rank=dense_rank.get(ci), bm25_score=bm25_score.get(ci), bm25_rank=bm25_rank.get(ci),
                sentences=sentences[r])
            for r, ci in enumerate(top)
        )
        pages = {h.chunk.source: backend.page_starts(h.chunk.source) for h in hits}
        return SearchResult(hits=hits, query=query, corpus_has_language=has_language, idf=idf,
                            unseen_idf=backend.max_idf, pages={s: p for s, p in pages.items() if p})

    def _bm25_ranking(self, query: Query) -> tuple[list[int], list[float], dict[int, float]]:
        """BM25's ranking, each vote weighted by the share of the question the chunk matches."""
        backend, cfg = self.backend, self.config
        tokens = [t for t in query.tokens if backend.df(t)]
        if not tokens:
            return [], [], {}
        rows, scores = backend.bm25_top(tokens, cfg.candidates)
        # Words absent from the corpus (often: words of another language) count in the best score.
        best_possible = backend.best_possible(query.tokens)
        order, values = rows.tolist(), scores.tolist()
        weights = [cfg.bm25_weight * min(1.0, v / best_possible / cfg.bm25_full) for v in values]
        return order, weights, dict(zip(order, values))

    def dense_scores(self, vector: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Chunk similarity plus its best sentence's similarity: whole-passage context and a sharp
        match both count (XQuAD en/en recall@1: 0.937 passage alone, 0.965 combined)."""
        chunk_sim, best_sentence = self.backend.dense_parts(vector, positions)
        return chunk_sim + best_sentence
