"""Writing the postgres index: the planner's files stored as rows, each batch one transaction.

:func:`update_postgres` is the postgres twin of :func:`amqa.index.local.store.update_index`: the same
scan and comparison (:mod:`amqa.index.planner`) against the manifest the database holds, the same
reading, chunking and embedding (:func:`~amqa.index.planner.write_files`), then
:class:`PostgresWriter` stores each batch in one transaction (a file's old rows deleted and its new
ones inserted together: a kill or a dropped connection leaves the old or the new file, never a mix) and
the removals and the manifest's header with the last one. Two writers are serialised by a session
advisory lock, with the local store's messages; readers never wait for it (MVCC).

>>> import os, pytest                                              # doctest: +SKIP
>>> report = update_postgres(bundled_seeds(), PostgresConfig(os.environ["AMQA_PG_DSN"]), "hash")  # doctest: +SKIP
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from amqa._version import __version__
from amqa.embedders import Embedder, get_embedder
from amqa.errors import IndexBusyError, IndexMismatchError, IndexUpdateError, InvalidInputError, NoDocumentsError
from amqa.index import planner
from amqa.index.manifest import FileRecord, FileRecords, FolderRecord, Manifest
from amqa.index.planner import EmbeddedBatch, PlannedDocument, ProgressCallback, UpdatePlan
from amqa.index.postgres.schema import (SCHEMA_VERSION, DatabaseError, NoIndexError, PostgresConfig, check_meta, connect,
                                        create_schema, create_vector_indexes, modules, read_meta, reason)
from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import DocumentFolder, FolderScan, Skipped
from amqa.text import tokenize

if TYPE_CHECKING:
    import psycopg

#: Batches as the local store cuts its segments (the first searchable soon).
FIRST_BATCH_CHUNKS = 1_000
BATCH_CHUNKS = 20_000


@dataclass(frozen=True)
class PostgresIndex:
    """The index a database holds, as one update left it: its manifest and generation (incremented by
    every committed change: a reader compares it to know it is behind)."""

    config: PostgresConfig
    manifest: Manifest
    generation: int


@dataclass(kw_only=True)
class PostgresReport(planner.UpdateReport):
    """What :func:`update_postgres` did (the fields of the local store's report)."""

    dsn: str
    index: PostgresIndex | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return self.dsn


def manifest_of(conn: "psycopg.Connection", config: PostgresConfig, meta: dict[str, Any]) -> Manifest:
    """The manifest the database holds (records from ``files``, the header from ``meta``)."""
    records = {source: FileRecord.from_dict(record) for source, record in
               conn.execute(f"SELECT source, record FROM {config.schema}.files ORDER BY id").fetchall()}
    chunking = meta.get("chunking")
    return Manifest(files=FileRecords(records), reader_version=int(meta.get("reader_version", 1)),
                    amqa_version=str(meta.get("amqa_version", "")), embedder_id=(meta.get("embedder") or {}).get("id"),
                    dim=int((meta.get("embedder") or {}).get("dim", 0)),
                    chunking=ChunkSettings(**chunking) if chunking else None,
                    folders=tuple(FolderRecord(f["path"], f.get("prefix", "")) for f in meta.get("folders") or ()),
                    docs=str((meta.get("folders") or [{"path": ""}])[0]["path"]),
                    created=meta.get("created"), updated=str(meta.get("updated", "")),
                    skipped_files=tuple(Skipped(**s) for s in meta.get("skipped_files") or ()),
                    scanned_ns=int(meta.get("scanned_ns", 0)))


def read_index(config: PostgresConfig, embedder: Embedder) -> PostgresIndex | None:
    """The database's index (None when it holds none), checked against ``embedder``."""
    try:
        conn = connect(config)
    except NoIndexError:
        return None
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            meta = read_meta(conn, config)
            if meta is None:
                return None
            check_meta(meta, config, embedder.id)
            return PostgresIndex(config, manifest_of(conn, config, meta), int(meta.get("generation", 0)))
    finally:
        conn.close()


def update_postgres(docs: str | os.PathLike | Sequence[DocumentFolder], config: PostgresConfig,
                    embedder: Embedder | str | None = None, settings: ChunkSettings | None = None,
                    rebuild: bool = False, progress: bool = False, *, on_progress: ProgressCallback | None = None,
                    wait: bool = True, on_wait: Callable[[int | None], None] | None = None,
                    reuse_from: str | os.PathLike | None = None) -> PostgresReport:
    """Bring the database's index up to date with ``docs`` (only new or changed files are read and
    embedded). One writer at a time per schema: another waits (``on_wait(pid)`` first) or, with
    ``wait=False``, raises :class:`~amqa.errors.IndexBusyError`. A connection lost midway raises
    :class:`~amqa.errors.IndexUpdateError`: the batches committed so far stay, the rest is as before.
    ``reuse_from``: a local store of the same folders and embedder whose vectors are copied for the
    files it holds unchanged (a local index moved into the database without embedding again)."""
    psycopg, _ = modules()
    started = time.perf_counter()
    embedder = get_embedder(embedder)
    folders = planner.as_folders(docs)
    for folder in folders:
        if not Path(folder.path).is_dir():
            raise InvalidInputError(f"documents folder not found: '{folder.path}'. Pass an existing folder with --docs DIR.")
    report = PostgresReport(dsn=config.shown)
    conn = connect(config, create=True)
    try:
        _lock(conn, config, wait, on_wait)
        with conn.transaction():
            if rebuild:
                conn.execute(f"DROP SCHEMA IF EXISTS {config.schema} CASCADE")
            meta = read_meta(conn, config)
            if meta is not None:
                check_meta(meta, config, embedder.id)
            else:
                create_schema(conn, config, embedder.dim)
                meta = {"schema_version": SCHEMA_VERSION, "generation": 0, "created": _now(),
                        "embedder": {"id": embedder.id, "dim": embedder.dim}}
                _put_meta(conn, config, meta)
        before = manifest_of(conn, config, meta) if meta.get("folders") is not None else None
        scanned_ns = time.time_ns()
        scan = planner.scan(folders, before)
        plan = planner.compare(scan, before)
        report.added, report.changed, report.unchanged = list(plan.added), list(plan.changed), list(plan.unchanged)
        report.removed, report.skipped = list(plan.removed), list(plan.skipped)
        if settings is not None and before is not None and before.chunking is not None and before.chunking != settings:
            raise IndexMismatchError(f"the index at {config.shown} was built with chunk settings "
                                     f"{before.chunking.to_dict()}, not {settings.to_dict()}: rebuild it with "
                                     "amqa index --backend postgres --rebuild")
        if settings is None:
            settings = before.chunking if before is not None and before.chunking is not None else ChunkSettings()
        writer = PostgresWriter(conn, config, folders, embedder, settings, plan, scan, scanned_ns, meta, report)
        if reuse_from is not None:
            from amqa.index.local.store import load_index

            writer.local = load_index(reuse_from, embedder, settings)
        if before is not None and plan.up_to_date:
            report.skipped += [s for s in before.skipped_files
                               if s.source not in {x.source for x in report.skipped} and s.source in writer.stamps]
            report.index = writer.refresh_stamps(before)
        else:
            writer.remove(plan.removed)
            planner.write_files(plan.to_read, writer, embedder, settings, first_batch=FIRST_BATCH_CHUNKS,
                                batch_chunks=BATCH_CHUNKS, progress=progress, on_progress=on_progress)
            report.index = writer.finish()
    except psycopg.OperationalError as exc:  # the connection dropped, the server stopped
        raise IndexUpdateError(f"the update of the index at {config.shown} was cut off ({reason(exc)}): run amqa index "
                               "again; what was committed stays, the rest is as before") from None
    except psycopg.Error as exc:
        why = reason(exc)
        todo = (": index on the primary server (a read replica only answers)" if "read-only" in why else
                ": check the role's rights on the database, then run amqa index again")
        raise DatabaseError(f"the database at {config.shown} refused an update ({why}){todo}") from None
    finally:
        conn.close()  # ends the session: its advisory lock is released
    report.total_seconds = time.perf_counter() - started
    return report


def _lock(conn: "psycopg.Connection", config: PostgresConfig, wait: bool,
          on_wait: Callable[[int | None], None] | None) -> None:
    """Take the schema's writer lock (a session advisory lock), saying who holds it when busy: the
    holder's pid is the one its ``application_name`` carries."""
    key = f"amqa:{config.schema}"
    conn.execute("SELECT set_config('application_name', %s, false)", (f"amqa pid {os.getpid()}",))
    got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
    if got is not None and got[0]:
        return
    row = conn.execute("""SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                          WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (hashtext(%s)::bigint & 4294967295)
                          LIMIT 1""", (key,)).fetchone()
    name = row[0] if row else ""
    pid = int(name.split()[-1]) if name.startswith("amqa pid ") and name.split()[-1].isdigit() else None
    if not wait:
        raise IndexBusyError(f"another amqa process{f' (pid {pid})' if pid else ''} is updating the index in "
                             f"{config.shown}", pid)
    if on_wait is not None:
        on_wait(pid)
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))


def _put_meta(conn: "psycopg.Connection", config: PostgresConfig, values: dict[str, Any]) -> None:
    from psycopg.types.json import Jsonb

    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {config.schema}.meta (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        [(k, Jsonb(v)) for k, v in values.items()])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class PostgresWriter:
    """One update of the database (an :class:`~amqa.index.planner.IndexWriter`): each batch one
    transaction that replaces its files' rows; removals and skipped files go with the first
    commit, the header (stamps, skipped files, folders) with each."""

    def __init__(self, conn: "psycopg.Connection", config: PostgresConfig, folders: Sequence[DocumentFolder],
                 embedder: Embedder, settings: ChunkSettings, plan: UpdatePlan, scan: FolderScan, scanned_ns: int,
                 meta: dict[str, Any], report: PostgresReport) -> None:
        self.conn, self.config, self.folders, self.embedder, self.settings = conn, config, folders, embedder, settings
        self.plan, self.scanned_ns, self.meta, self.report = plan, scanned_ns, meta, report
        self.stamps = {f.source: f for f in scan.files}
        self.pending_removals: list[str] = []
        self.s = config.schema
        #: A local store's index whose vectors are reused (update_postgres's ``reuse_from``).
        self.local: Any = None

    # -- IndexWriter ----------------------------------------------------------------------------

    def reuse(self, planned: PlannedDocument) -> tuple[np.ndarray, np.ndarray] | None:
        """The stored vectors of a file read again into the same chunks and sentences (the local
        store's first, when one is given)."""
        if self.local is not None:
            from amqa.index.local.store import stored_vectors

            found = stored_vectors(self.local, planned)
            if found is not None:
                return found
        s, conn = self.s, self.conn
        with conn.cursor(binary=True) as cur:
            chunks = cur.execute(f"""SELECT c.chunk_key, c.start_at, c.end_at, c.text, c.spans, c.embedding
                                     FROM {s}.chunks c JOIN {s}.files f ON f.id = c.file_id
                                     WHERE f.source = %s ORDER BY c.id""", (planned.source,)).fetchall()
            if len(chunks) != len(planned.chunks) or not chunks:
                return None
            for row, c in zip(chunks, planned.chunks):
                if (row[0], row[1], row[2], row[3], list(row[4])) != (c.id, c.start, c.end, c.text, _spans(c)):
                    return None
            sentences = cur.execute(f"""SELECT x.start_at, x.end_at, x.embedding FROM {s}.sentences x
                                        JOIN {s}.files f ON f.id = x.file_id WHERE f.source = %s ORDER BY x.id""",
                                    (planned.source,)).fetchall()
        if [(a, b) for a, b, _ in sentences] != list(planned.sentences):
            return None
        dim = self.embedder.dim
        return (np.array([r[5].to_numpy() for r in chunks], dtype=np.float32).reshape(-1, dim),
                np.array([r[2].to_numpy() for r in sentences], dtype=np.float32).reshape(-1, dim))

    def remove(self, sources: Sequence[str]) -> None:
        self.pending_removals += list(sources)

    def skip(self, skipped: Skipped) -> None:
        if self.report.record_skip(skipped):  # indexed before: its old rows go
            self.pending_removals.append(skipped.source)

    def write(self, batch: EmbeddedBatch) -> None:
        """One transaction: the batch's files replaced (their old rows deleted), removals, header."""
        self.report.embed_seconds += batch.embed_seconds
        self.report.embedded_texts += batch.embedded_texts
        with self.conn.transaction():
            self._delete(self.pending_removals + [f.source for f in batch.files])
            for file, record in zip(batch.files, batch.records):
                self._insert(file, record)
            self._header()
        self.pending_removals = []

    def finish(self) -> PostgresIndex:
        with self.conn.transaction():
            create_vector_indexes(self.conn, self.config)  # a new index's: built now, over all its rows
            self._delete(self.pending_removals)
            self._refresh_records()
            self._header()
            count = self.conn.execute(f"SELECT count(*) FROM {self.s}.files").fetchone()
            if not count or not count[0]:
                raise NoDocumentsError(f"no document to index in {' and '.join(str(f.path) for f in self.folders)}")
        self.pending_removals = []
        return self._index()

    def refresh_stamps(self, before: Manifest) -> PostgresIndex:
        """Up to date: record files' sizes and times that moved, so that the next scan need not read them."""
        with self.conn.transaction():
            if self._refresh_records():
                self._header()
        return self._index()

    # -- rows -------------------------------------------------------------------------------

    def _delete(self, sources: Sequence[str]) -> None:
        if sources:
            self.conn.execute(f"DELETE FROM {self.s}.files WHERE source = ANY(%s)", (list(sources),))

    def _insert(self, file: planner.PlannedFile, record: FileRecord) -> None:
        from psycopg.types.json import Jsonb

        s, conn, dim = self.s, self.conn, self.embedder.dim
        stamp = self.stamps.get(file.source)
        if stamp is not None:
            record = replace(record, size=stamp.size, mtime_ns=stamp.mtime_ns, sha256=stamp.sha256)
        # The file's vector sums as the local segments keep them: summed in float64, stored in float32.
        chunk_sum = np.asarray(file.chunk_vectors, np.float64).sum(axis=0).astype(np.float32) if len(file.chunks) \
            else np.zeros(dim, np.float32)
        sentence_sum = np.asarray(file.sentence_vectors, np.float64).sum(axis=0).astype(np.float32) \
            if len(file.sentences) else np.zeros(dim, np.float32)
        found = conn.execute(f"INSERT INTO {s}.files (source, language, record, chunk_sum, sentence_sum) "
                             "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                             (file.source, file.language, Jsonb(record.to_dict()), chunk_sum, sentence_sum)).fetchone()
        assert found is not None
        file_id = found[0]
        from bisect import bisect_left

        starts = [a for a, _ in file.sentences]
        with conn.cursor() as cur:
            with cur.copy(f"COPY {s}.sentences (file_id, ordinal, start_at, end_at, embedding) FROM STDIN") as copy:
                for i, ((a, b), v) in enumerate(zip(file.sentences, file.sentence_vectors)):
                    copy.write_row((file_id, i, a, b, v))
            ids = []
            with cur.copy(f"COPY {s}.chunks (file_id, ordinal, chunk_key, start_at, end_at, text, title, language, spans, "
                          "sentence_lo, sentence_hi, length, embedding) FROM STDIN") as copy:
                token_lists = []
                for ci, (chunk, v) in enumerate(zip(file.chunks, file.chunk_vectors)):
                    tokens = list(file.tokens[ci]) if file.tokens is not None else tokenize(chunk.text, chunk.language)
                    token_lists.append(tokens)
                    copy.write_row((file_id, chunk.ordinal, chunk.id, chunk.start, chunk.end, chunk.text, chunk.title,
                                    chunk.language, _spans(chunk), bisect_left(starts, chunk.start),
                                    bisect_left(starts, chunk.end), len(tokens) or 1, v))
            ids = [r[0] for r in cur.execute(f"SELECT id FROM {s}.chunks WHERE file_id = %s ORDER BY id",
                                             (file_id,)).fetchall()]
            from collections import Counter

            with cur.copy(f"COPY {s}.postings (token, chunk_id, tf) FROM STDIN") as copy:
                for chunk_id, tokens in zip(ids, token_lists):
                    for token, tf in Counter(tokens).items():
                        copy.write_row((token, chunk_id, tf))

    def _refresh_records(self) -> bool:
        """Stamps of indexed files whose size or time moved; True when any did."""
        from psycopg.types.json import Jsonb

        rows = self.conn.execute(f"SELECT source, record FROM {self.s}.files").fetchall()
        moved = []
        for source, record in rows:
            stamp = self.stamps.get(source)
            if stamp is None or record.get("sha256") != stamp.sha256:
                continue
            if (record.get("size"), record.get("mtime_ns")) != (stamp.size, stamp.mtime_ns):
                moved.append((Jsonb({**record, "size": stamp.size, "mtime_ns": stamp.mtime_ns}), source))
        if moved:
            with self.conn.cursor() as cur:
                cur.executemany(f"UPDATE {self.s}.files SET record = %s WHERE source = %s", moved)
        return bool(moved)

    def _header(self) -> None:
        self.meta = {**self.meta, "schema_version": SCHEMA_VERSION, "amqa_version": __version__,
                     "embedder": {"id": self.embedder.id, "dim": self.embedder.dim},
                     "chunking": self.settings.to_dict(), "reader_version": self.plan.reader_version,
                     "folders": [{"path": str(Path(f.path).resolve()), "prefix": f.prefix} for f in self.folders],
                     "updated": _now(), "skipped_files": [x.to_dict() for x in self.report.skipped],
                     "scanned_ns": self.scanned_ns, "generation": int(self.meta.get("generation", 0)) + 1}
        _put_meta(self.conn, self.config, self.meta)

    def _index(self) -> PostgresIndex:
        return PostgresIndex(self.config, manifest_of(self.conn, self.config, self.meta), int(self.meta["generation"]))


def _spans(chunk: Any) -> list[int]:
    return [x for sentence in chunk.sentences for x in (sentence.start, sentence.end)]


__all__ = ["PostgresIndex", "PostgresReport", "PostgresWriter", "read_index", "update_postgres"]
