"""The :class:`~amqa.index.protocol.SearchBackend` of a PostgreSQL index: what the database holds, read once
into positions, and searched there.

Loading reads, in one repeatable-read transaction, the chunks' text and offsets and the sentences'
offsets (no vector), in the order the files were written: the positions. A question then asks the
database for the nearest chunks and sentences (HNSW, ``ORDER BY embedding <#> q``), for the vectors of
the candidates and for the postings of its words; the scores are computed here with the local
backend's formulas and shapes (one gather and one product per kind; :mod:`amqa.index.bm25` in float32),
so that both backends give the same hits.

A backend is a snapshot: rows written after it was loaded are ignored (their ids are not among its
positions) until the keeper loads a new one (it compares the index's generation).
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Sequence

import numpy as np

from amqa.index.bm25 import Bm25Params, maxscore_top, top_positions
from amqa.index.postgres.schema import DatabaseError, PostgresConfig, check_meta, connect, modules, read_meta, reason
from amqa.index.protocol import best_per_run, language_means
from amqa.text import tokenize
from amqa.types import Chunk, ChunkSentences, Sentence


#: Vectors of each kind a backend keeps in memory once fetched (1.5 KB each at 384 dimensions: 50k are
#: 77 MB): fetching a question's candidates' vectors took 28 of its 47 ms on the Debian collection
#: (bench/pg_compare.py), most of them fetched again by the next question.
CACHED_VECTORS = 50_000
#: Postings a backend keeps in memory (16 bytes each: 4M are 64 MB), as the local backend keeps weights.
CACHED_POSTINGS = 4_000_000


class PostgresBackend:
    """One loaded snapshot of the database's index; thread-safe (one connection, used under a lock)."""

    def __init__(self, config: PostgresConfig, embedder_id: str, *, bm25: Bm25Params = Bm25Params()) -> None:
        psycopg, _ = modules()
        self.config = config
        self.params = bm25
        self._conn = connect(config)
        self._lock = threading.Lock()
        s = config.schema
        try:
            with self._conn.transaction():
                self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                meta = read_meta(self._conn, config)
                if meta is None:
                    raise DatabaseError(f"the database at {config.shown} holds no amqa index: build it with "
                                        "amqa index --backend postgres --dsn ...")
                check_meta(meta, config, embedder_id)
                self.generation = int(meta.get("generation", 0))
                self.dim = int(meta["embedder"]["dim"])
                files = self._conn.execute(f"SELECT id, source, language, record FROM {s}.files ORDER BY id").fetchall()
                chunk_rows = self._conn.execute(
                    f"SELECT id, file_id, chunk_key, ordinal, start_at, end_at, text, title, language, spans, "
                    f"sentence_lo, sentence_hi, length FROM {s}.chunks ORDER BY file_id, id").fetchall()
                sentence_rows = self._conn.execute(
                    f"SELECT id, file_id, start_at, end_at FROM {s}.sentences ORDER BY file_id, id").fetchall()
        except psycopg.Error as exc:
            self._conn.close()
            raise DatabaseError(f"could not read the index at {config.shown} ({reason(exc)}): check the server, "
                                "then ask again") from None
        except BaseException:
            self._conn.close()
            raise
        source_of = {fid: source for fid, source, _, _ in files}
        self._pages = {source: tuple(record.get("pages") or ()) for _, source, _, record in files if record.get("pages")}
        self._file_language = [(fid, language) for fid, _, language, _ in files]
        # Sentences: per file, their database ids in document order (file ordinals).
        file_sentences: dict[int, list[int]] = {}
        self._sentence_ids: list[int] = []
        self._sentence_spans: list[tuple[int, int]] = []
        for sid, fid, a, b in sentence_rows:
            file_sentences.setdefault(fid, []).append(len(self._sentence_ids))
            self._sentence_ids.append(sid)
            self._sentence_spans.append((a, b))
        self.chunks: list[Chunk] = []
        self._chunk_ids: list[int] = []
        self._chunk_sentences: list[np.ndarray] = []
        lengths = []
        for cid, fid, key, ordinal, a, b, text, title, language, spans, lo, hi, length in chunk_rows:
            sentences = tuple(Sentence(spans[i], spans[i + 1]) for i in range(0, len(spans), 2))
            self.chunks.append(Chunk(key, source_of[fid], ordinal, a, b, text, title, language, sentences))
            self._chunk_ids.append(cid)
            self._chunk_sentences.append(np.array(file_sentences.get(fid, [])[lo:hi], dtype=np.int64))
            lengths.append(length)
        self._position_of_id = {cid: p for p, cid in enumerate(self._chunk_ids)}
        self._positions = {c.id: p for p, c in enumerate(self.chunks)}
        self._sentence_row_of_id = {sid: r for r, sid in enumerate(self._sentence_ids)}
        self._sentence_chunks: list[list[int]] = [[] for _ in self._sentence_ids]
        for p, held in enumerate(self._chunk_sentences):
            for r in held.tolist():
                self._sentence_chunks[r].append(p)
        n = len(self.chunks)
        total = float(sum(lengths))
        self._norms = bm25.norms(np.array(lengths, dtype=np.int64), total / n if n else 1.0)
        self.max_idf = bm25.max_idf(n)
        counts = Counter(c.language for c in self.chunks)
        self.languages = frozenset(lang for lang, k in counts.items() if k >= 0.05 * n)
        self._df: dict[str, int] = {}
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._vector_cache: dict[str, dict[int, np.ndarray]] = {"chunks": {}, "sentences": {}}
        self._matrices: dict[str, np.ndarray] = {}
        self._cached = 0
        self._tokens: dict[int, frozenset[str]] = {}
        self._means: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def close(self) -> None:
        self._conn.close()

    def _query(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False,
               ef_search: int | None = None) -> list[tuple]:
        """Rows of one read (``ef_search``: HNSW's candidates list for it). A connection that dropped
        (the server restarted, a proxy cut it) is opened again once; then a one-line error."""
        psycopg, _ = modules()
        with self._lock:
            for attempt in (0, 1):
                try:
                    if ef_search is None:
                        with self._conn.cursor(binary=binary) as cur:
                            return cur.execute(sql, params).fetchall()
                    with self._conn.transaction(), self._conn.cursor(binary=binary) as cur:
                        if ef_search > 0:
                            cur.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
                        else:  # exact: no index scan, every row's distance
                            cur.execute("SET LOCAL enable_indexscan = off")
                        return cur.execute(sql, params).fetchall()
                except psycopg.OperationalError as exc:
                    if attempt or not (self._conn.closed or self._conn.broken):
                        raise DatabaseError(f"lost the connection to PostgreSQL at {self.config.shown} "
                                            f"({reason(exc)}): ask again once the server is back") from None
                    try:
                        self._conn = connect(self.config)
                    except DatabaseError as again:
                        raise DatabaseError(f"lost the connection to PostgreSQL, and {again}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _vectors(self, table: str, ids: Sequence[int]) -> np.ndarray:
        """The vectors of rows ``ids`` of ``table``, in that order (float32, exactly as written)."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        matrix = self._matrices.get(table)
        if matrix is not None:  # the whole table is in memory (below exact_below)
            row_of = self._position_of_id if table == "chunks" else self._sentence_row_of_id
            return matrix[[row_of[i] for i in ids]]
        cache = self._vector_cache[table]
        by_id = {i: cache[i] for i in ids if i in cache}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            rows = self._query(f"SELECT id, embedding FROM {self.config.schema}.{table} WHERE id = ANY(%s)",
                               (missing,), binary=True)
            fetched = {i: v.to_numpy() for i, v in rows}
            by_id.update(fetched)
            with self._lock:  # rows are never rewritten (a changed file gets new ids): safe to keep
                for i, v in fetched.items():
                    if len(cache) >= CACHED_VECTORS:
                        cache.pop(next(iter(cache)))  # the oldest first
                    cache[i] = v
        # A row another process deleted since this snapshot was loaded (its file changed or removed)
        # scores 0 until the keeper loads the new index: the answer pipeline checks that a hit's file
        # is still there.
        gone = np.zeros(self.dim, dtype=np.float32)
        return np.array([by_id.get(i, gone) for i in ids], dtype=np.float32).reshape(len(ids), self.dim)

    def current_generation(self) -> int:
        """The database's generation now (every committed update raises it): this snapshot is behind
        when it differs from :attr:`generation`."""
        rows = self._query(f"SELECT value FROM {self.config.schema}.meta WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    def _nearest(self, table: str, vector: np.ndarray, n: int) -> list[int]:
        """Ids of the ``n`` rows of ``table`` nearest ``vector``: HNSW (pgvector returns at most
        ef_search rows, so it is raised to ``n``), or exact below ``config.exact_below`` rows, as the
        local backend."""
        ids = self._chunk_ids if table == "chunks" else self._sentence_ids
        if len(ids) < self.config.exact_below:
            # Held in memory and searched exactly, as the local backend does its small segments (an exact
            # scan in SQL took 15 of a question's 34 ms on the Debian collection, bench/pg_compare.py).
            matrix = self._all_vectors(table)
            sims = matrix @ np.asarray(vector, np.float32)
            near = np.arange(len(sims)) if len(sims) <= n else np.argpartition(-sims, n - 1)[:n]
            return [ids[r] for r in near.tolist()]
        rows = self._query(f"SELECT id FROM {self.config.schema}.{table} ORDER BY embedding <#> %s LIMIT %s",
                           (np.asarray(vector, np.float32), n), ef_search=max(self.config.ef_search, n))
        return [r[0] for r in rows]

    def _all_vectors(self, table: str) -> np.ndarray:
        """Every vector of ``table`` in this snapshot, by row (chunk positions, sentence rows), fetched once."""
        found = self._matrices.get(table)
        if found is None:
            row_of = self._position_of_id if table == "chunks" else self._sentence_row_of_id
            found = np.zeros((len(row_of), self.dim), dtype=np.float32)  # a row deleted meanwhile scores 0
            for i, v in self._query(f"SELECT id, embedding FROM {self.config.schema}.{table}", binary=True):
                r = row_of.get(i)
                if r is not None:
                    found[r] = v.to_numpy()
            with self._lock:
                self._matrices[table] = found
        return found

    # -- SearchBackend ---------------------------------------------------------------------------

    def position(self, chunk_id: str) -> int:
        return self._positions[chunk_id]

    def candidates(self, vector: np.ndarray, n: int) -> np.ndarray:
        near = [self._position_of_id[i] for i in self._nearest("chunks", vector, n) if i in self._position_of_id]
        rows = [self._sentence_row_of_id[i] for i in self._nearest("sentences", vector, n)
                if i in self._sentence_row_of_id]
        held = [p for r in rows for p in self._sentence_chunks[r]]
        return np.union1d(np.array(near, dtype=np.int64), np.array(held, dtype=np.int64))

    def dense_parts(self, vector: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positions = np.asarray(positions, dtype=np.int64)
        chunk_sim = self._vectors("chunks", [self._chunk_ids[p] for p in positions.tolist()]) @ vector
        held = [self._chunk_sentences[p] for p in positions.tolist()]
        sizes = np.array([len(h) for h in held], dtype=np.int64)
        sims = np.zeros(0)
        if sizes.sum():
            rows = np.concatenate(held)
            sims = self._vectors("sentences", [self._sentence_ids[r] for r in rows.tolist()]) @ vector
        return chunk_sim, best_per_run(chunk_sim, sims, sizes)

    def language_bias(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._means is None:
            self._means = self._language_means()
        lang_of, chunk_c, sent_c = self._means
        return (chunk_c @ vector)[lang_of], (sent_c @ vector)[lang_of]

    def _language_means(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The local store's sums: per file float64 sums kept in float32, added in float64, file order."""
        langs = sorted(self.languages)
        sums = np.zeros((len(langs) + 1, 2, self.dim), dtype=np.float64)
        counts = np.zeros((len(langs) + 1, 2), dtype=np.int64)
        rows = self._query(f"SELECT id, language, chunk_sum, sentence_sum, (record->>'chunks')::int, "
                           f"(record->>'sentences')::int FROM {self.config.schema}.files WHERE id = ANY(%s) ORDER BY id",
                           ([fid for fid, _ in self._file_language],), binary=True)
        for _, language, chunk_sum, sentence_sum, n_chunks, n_sentences in rows:
            i = langs.index(language) if language in self.languages else len(langs)
            sums[i, 0] += np.asarray(chunk_sum.to_numpy(), np.float64)
            sums[i, 1] += np.asarray(sentence_sum.to_numpy(), np.float64)
            counts[i] += (n_chunks, n_sentences)
        lang_of = np.array([langs.index(c.language) if c.language in self.languages else len(langs)
                            for c in self.chunks], dtype=np.int64)
        chunk_c, sent_c = language_means(sums, counts)
        return lang_of, chunk_c, sent_c

    def _entry(self, raw: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(positions ascending, tf) of postings ``(chunk id, tf)`` among this snapshot's chunks."""
        kept = [(self._position_of_id[cid], tf) for cid, tf in raw if cid in self._position_of_id]
        kept.sort()
        return (np.array([p for p, _ in kept], dtype=np.int64).reshape(-1),
                np.array([tf for _, tf in kept], dtype=np.int64).reshape(-1))

    def _keep(self, token: str, entry: tuple[np.ndarray, np.ndarray]) -> None:
        with self._lock:
            if token not in self._cache and self._cached + len(entry[0]) <= CACHED_POSTINGS:
                self._cache[token] = entry
                self._cached += len(entry[0])

    def _lookup(self, tokens: Sequence[str]) -> None:
        """Know the df of ``tokens``: one query reads up to ``lazy_postings`` postings of each new word
        (a rare word's all: its df is the snapshot's, its postings kept, up to :data:`CACHED_POSTINGS`);
        a word with more is counted in SQL (the database's count now: the snapshot's unless another
        process wrote since) and its postings read only where :meth:`bm25_top` needs them."""
        new = sorted(set(tokens) - self._df.keys())
        if not new:
            return
        limit = self.config.lazy_postings
        found: dict[str, list[tuple[int, int]]] = {t: [] for t in new}
        for token, cid, tf in self._query(
                f"SELECT t.token, p.chunk_id, p.tf FROM unnest(%s::text[]) AS t(token) CROSS JOIN LATERAL "
                f"(SELECT chunk_id, tf FROM {self.config.schema}.postings WHERE token = t.token LIMIT %s) p",
                (new, limit)):
            found[token].append((cid, tf))
        common = [t for t in new if len(found[t]) >= limit]
        for token in new:
            if token not in common:
                entry = self._entry(found[token])
                self._keep(token, entry)
                with self._lock:
                    self._df[token] = len(entry[0])
        if common:
            counted = dict(self._query(f"SELECT token, count(*) FROM {self.config.schema}.postings "
                                       "WHERE token = ANY(%s) GROUP BY token", (common,)))
            with self._lock:
                self._df.update({t: int(counted.get(t, 0)) for t in common})

    def _postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions ascending, tf) of every chunk of the snapshot holding ``token``."""
        found = self._cache.get(token)
        if found is None:
            found = self._entry(self._query(f"SELECT chunk_id, tf FROM {self.config.schema}.postings "
                                            "WHERE token = %s", (token,)))
            self._keep(token, found)
        return found

    def weights(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The positions holding ``token`` and its BM25 weight in each (float32, :mod:`amqa.index.bm25`)."""
        where, tf = self._postings(token)
        if not len(where):
            return where, np.zeros(0, dtype=np.float32)
        return where, self.params.weight(np.float32(self.idf(token)), tf, self._norms[where])

    def weights_at(self, token: str, positions: np.ndarray) -> np.ndarray:
        """The weight of ``token`` in each of the sorted ``positions`` (0 where absent): the same float32
        values as :meth:`weights`, read for these chunks only when the word's postings are not kept."""
        out = np.zeros(len(positions), dtype=np.float32)
        if not len(positions):
            return out
        found = self._cache.get(token)
        if found is None:
            found = self._entry(self._query(
                f"SELECT chunk_id, tf FROM {self.config.schema}.postings WHERE token = %s AND chunk_id = ANY(%s)",
                (token, [self._chunk_ids[p] for p in positions.tolist()])))
        held, tf = found
        if len(held):
            at = np.minimum(np.searchsorted(held, positions), len(held) - 1)
            hit = held[at] == positions
            out[hit] = self.params.weight(np.float32(self.idf(token)), tf[at[hit]], self._norms[positions[hit]])
        return out

    def df(self, token: str) -> int:
        found = self._df.get(token)
        if found is None:
            self._lookup([token])
            found = self._df[token]
        return found

    def idf(self, token: str, unseen: float | None = None) -> float:
        d = self.df(token)
        if not d:
            return self.max_idf if unseen is None else unseen
        return self.params.idf(d, len(self.chunks))

    def bm25_top(self, tokens: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The local backend's :meth:`~amqa.index.local.backend.LexicalIndex.top`: every word scored over
        its chunks, but words in ``lazy_postings`` chunks or more only where they can change the ``n``
        best (MaxScore), so that a common word's postings are read for a few chunks, not all."""
        self._lookup(tokens)
        if any(self.df(t) >= self.config.lazy_postings for t in tokens):
            found = maxscore_top(self, tokens, n, len(self.chunks), self.config.lazy_postings)
            if found is not None:
                return found
        scores = np.zeros(len(self.chunks), dtype=np.float32)
        for token in tokens:  # a repeated word counts again
            where, weights = self.weights(token)
            scores[where] += weights
        best = top_positions(scores, n)
        return best, scores[best]

    def best_possible(self, tokens: Sequence[str]) -> float:
        return self.params.best_possible([self.idf(t) for t in set(tokens)])

    def sentences(self, positions: Sequence[int]) -> tuple[ChunkSentences, ...]:
        held = [self._chunk_sentences[int(p)] for p in positions]
        rows = np.concatenate(held) if held else np.zeros(0, dtype=np.int64)
        vectors = self._vectors("sentences", [self._sentence_ids[r] for r in rows.tolist()])
        out, at = [], 0
        for p, mine in zip(positions, held):
            chunk = self.chunks[int(p)]
            spans = tuple(self._sentence_spans[r] for r in mine.tolist())
            tokens = []
            for r, (a, b) in zip(mine.tolist(), spans):
                if r not in self._tokens:
                    self._tokens[r] = frozenset(tokenize(chunk.text[a - chunk.start:b - chunk.start], chunk.language))
                tokens.append(self._tokens[r])
            out.append(ChunkSentences(spans=spans, tokens=tuple(tokens), vectors=vectors[at:at + len(mine)]))
            at += len(mine)
        return tuple(out)

    def page_starts(self, source: str) -> tuple[int, ...]:
        return self._pages.get(source, ())


def open_postgres(config: PostgresConfig, embedder_id: str) -> PostgresBackend:
    """:class:`PostgresBackend` over the database's index."""
    return PostgresBackend(config, embedder_id)

