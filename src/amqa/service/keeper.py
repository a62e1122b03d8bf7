"""The index keeper: loads the index, builds it when missing, and keeps it caught up with the folders.

It owns the one loaded index of an engine (:class:`Loaded`, replaced whole when the index changes)
and the rules for following the folders: the first use builds or refreshes the index, each question
after that may look at the files' sizes and times first (:meth:`IndexKeeper.state`), a failed update
is answered around (the last good index, with a warning) and tried again when a file changes or
after :attr:`KeeperConfig.retry_failed_update` seconds.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from amqa.embedders import Embedder
from amqa.errors import AmqaError, IndexBusyError, InvalidInputError, NoDocumentsError
from amqa.index.factory import BACKENDS, FOLLOWED, BackendSource, open_backend
from amqa.index.local.backend import LocalBackend, LocalConfig
from amqa.index.local.store import IndexData, IndexReport, ProgressCallback, folders_record, load_index, read_manifest, update_index
from amqa.index.manifest import Manifest
from amqa.index.planner import fingerprint, has_changed
from amqa.index.planner import scan as planner_scan
from amqa.index.protocol import SearchBackend
from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import DocumentFolder, scan_folders
from amqa.settings import check_fields
from amqa.text import printable

if TYPE_CHECKING:
    from amqa.index.postgres.writer import PostgresIndex


@dataclass(frozen=True)
class Loaded:
    """One loaded index; replaced whole when the index changes."""

    backend: SearchBackend
    #: The index the backend was loaded from: the local store's, or the database's (postgres); None for a
    #: backend without a store.
    index: "IndexData | PostgresIndex | None" = None

    @property
    def manifest(self) -> Manifest:
        if self.index is None:
            raise InvalidInputError("this engine's backend keeps no store: its documents are listed only with "
                                    "the local and postgres backends")
        return self.index.manifest


@dataclass(frozen=True, kw_only=True)
class KeeperConfig:
    """When the keeper looks at the folders, and when it tries a failed update again."""

    #: A folder check cheaper than this (seconds) runs before every question (the seeds take 0.2 ms,
    #: 500 small files 6 to 11 ms); a costlier one at most once every ``check_spacing`` times its own
    #: duration (10k files, 100k chunks: a 0.1 to 0.2 s check at most every 2 to 4 s), so that
    #: questions do not pay for it each time.
    check_always_below: float = 0.02
    check_spacing: float = 20.0
    #: After an update failed (a full disk, a store that cannot be written, a model that crashed), the
    #: index answers as it is and the update is tried again when a file changes, or after this many seconds.
    retry_failed_update: float = 300.0

    def __post_init__(self) -> None:
        check_fields(self, ("check_always_below", "check_spacing", "retry_failed_update"), integer=False)


class IndexKeeper:
    """The loaded index of ``folders`` in ``store``, on backend ``backend``. Safe to share between threads.

    >>> import tempfile
    >>> from amqa.ingest.documents import DocumentFolder
    >>> from amqa.embedders import get_embedder
    >>> from amqa.settings import bundled_seeds
    >>> store = tempfile.TemporaryDirectory()
    >>> keeper = IndexKeeper((DocumentFolder(bundled_seeds(), "", writable=False),), store.name, get_embedder("hash"))
    >>> len(keeper.state().backend.chunks) > 0, keeper.follows
    (True, True)
    >>> store.cleanup()
    """

    def __init__(self, folders: tuple[DocumentFolder, ...], store: str | Path, embedder: Embedder, *,
                 chunking: ChunkSettings | None = None, progress: bool = False, backend: str = "local",
                 config: KeeperConfig | None = None, local: LocalConfig | None = None, debug: bool = False,
                 dsn: str | None = None) -> None:
        if backend not in BACKENDS:
            raise InvalidInputError(f"unknown backend {backend!r}: choose one of {', '.join(sorted(BACKENDS))}")
        #: The postgres backend's database (its index is followed as the local store's is).
        self.pg_config = None
        if backend == "postgres":
            from amqa.index.postgres.schema import PostgresConfig

            self.pg_config = PostgresConfig(dsn or "")
        self.folders = folders
        self.store = Path(store)
        self.embedder = embedder
        self.chunking = chunking
        self.progress = progress
        self.backend_name = backend
        self.config = config or KeeperConfig()
        #: The local backend's tunables (search threads, BM25).
        self.local = local or LocalConfig()
        self.debug = debug
        self._loaded: Loaded | None = None
        self.lock = threading.Lock()
        # Whether the index follows the folders before each question (not when it was built from other
        # folders, or its store is read-only); and the files' last seen sizes, times and hashes.
        self.follows = False
        # (After an update, the manifest whose stamps they are: read on the next check, not at every
        # update; a 10k-file manifest takes 14 ms to turn into stamps.)
        self._stamps: Mapping[str, Mapping] = {}
        self._stamps_of: Manifest | None = None
        self._stamps_ns = 0
        # When the last folder check ended and how long it took (see _check_due).
        self._checked_at = 0.0
        self._check_seconds = 0.0
        # Why the loaded index may be behind the folders (its last update failed, or another process is
        # updating it): a warning on every answer until an update succeeds. And the failed update's
        # folder state and time: not tried again until a file changes or retry_failed_update passes.
        self.stale: str | None = None
        self._failed: tuple[dict[str, str], float] | None = None
        self._scan: dict[str, str] = {}

    @property
    def docs(self) -> Path:
        return self.folders[0].path

    def index(self, rebuild: bool = False, on_progress: ProgressCallback | None = None) -> IndexReport:
        """Bring the index up to date with the folders (incremental) and reload it.
        ``on_progress(step, done, total)`` hears of each file read and each batch of texts embedded."""
        with self.lock:
            current = self._loaded.index if self._loaded is not None else None
            report = self._update(rebuild=rebuild, progress=self.progress, on_progress=on_progress, current=current,
                                  on_wait=self._waiting)
            # Reload whenever a new manifest was published, even with no file added, changed or removed:
            # a new file that was skipped changes the documents list.
            if self._loaded is None or rebuild or report.index is not current:
                self._loaded = self._load(report.index)
            self._follow(report.index)
            self.stale, self._failed = None, None
            return report

    def state(self, force_check: bool = False) -> Loaded:
        """The loaded index, loaded (or built) on first use, caught up with the folders after that
        (``force_check``: look at the folders now, whatever the check's cost)."""
        loaded = self._loaded
        if loaded is None:
            with self.lock:
                if self._loaded is None and self.backend_name not in FOLLOWED:  # no store to follow
                    self._loaded = Loaded(open_backend(self.backend_name, BackendSource(
                        self.folders, self.embedder, self.chunking, self.store)))
                elif self._loaded is None:
                    index, follow = self._refresh()
                    self._loaded = self._load(index)
                    self._follow(self._loaded.index if follow else None)
                loaded = self._loaded
        elif self.follows and (force_check or self._check_due()) and self.changed(loaded):
            self._catch_up(loaded)
            loaded = self._loaded
        elif not self.follows and self.pg_config is not None and (force_check or self._check_due()) \
                and self._moved(loaded):
            # A database another process indexes (other folders than ours): load its new index.
            with self.lock:
                if self._loaded is loaded:
                    self._loaded = self._load(None)
            loaded = self._loaded
        assert loaded is not None
        return loaded

    def exists(self, source: str) -> bool:
        """Whether the file behind ``source`` is still in its folder."""
        path = self.folder_of(source).path_of(source)
        return path is not None and path.exists()

    def folder_of(self, source: str) -> DocumentFolder:
        """The folder a source belongs to (the one with the longest prefix it starts with)."""
        return max((f for f in self.folders if source.startswith(f.prefix)), key=lambda f: len(f.prefix))

    # -- following the folders ---------------------------------------------------------------

    def _waiting(self, pid: int | None) -> None:
        """Say once, on stderr, what an update waits for (another process holding the store's lock)."""
        print(printable(f"amqa: waiting for another amqa process indexing {self._where()} "
                        f"(pid {pid if pid is not None else 'unknown'})...", one_line=True), file=sys.stderr, flush=True)

    def _update_failed(self, exc: Exception) -> None:
        """An update failed: answer from the loaded index, with a warning, until one succeeds. Not
        when the folder itself is the problem (no document left in it, a folder gone): the old index
        would cite files that are not there any more."""
        if isinstance(exc, (NoDocumentsError, InvalidInputError)):
            raise exc
        if isinstance(exc, IndexBusyError):
            self.stale = f"{exc}: this answer comes from the index as it was (not waiting for it)"
            return
        if self.debug:
            traceback.print_exception(exc, file=sys.stderr)
        reason = str(exc) if isinstance(exc, AmqaError) else f"{type(exc).__name__}: {exc}"
        self.stale = f"this answer comes from the last good index: {reason}"
        self._failed = (self._scan, time.monotonic())

    def _follow(self, index: "IndexData | PostgresIndex | None") -> None:
        """Follow the folders from ``index`` on (None: the store's index is used as it is)."""
        self.follows = index is not None
        if index is not None:
            self._stamps, self._stamps_of, self._stamps_ns = {}, index.manifest, index.manifest.scanned_ns

    def changed(self, loaded: Loaded) -> bool:
        """Whether a file was added, changed or removed since ``loaded`` was indexed: sizes and times
        first, a hash only for a file whose size or time moved (the cost is in the README)."""
        if self.pg_config is not None and self._moved(loaded):
            return True  # another process updated the database: catch up (or load its index)
        scanned_ns = time.time_ns()
        t0 = time.perf_counter()
        try:
            if self._stamps_of is not None:
                self._stamps, self._stamps_of = self._stamps_of.stamps(), None
            scan = scan_folders(self.folders, self._stamps, trusted_before_ns=self._stamps_ns)
        except (InvalidInputError, OSError):  # a folder is gone: answer from the index as it is
            return False
        finally:
            self._checked_at = time.perf_counter()
            self._check_seconds = self._checked_at - t0
        self._stamps, self._stamps_ns = {f.source: f.stamp() for f in scan.files}, scanned_ns
        now = fingerprint(scan)
        self._scan = now
        if self._failed is not None and self._failed[0] == now and \
                time.monotonic() - self._failed[1] < self.config.retry_failed_update:
            return False  # the update failed on these very files: not again so soon
        return has_changed(scan, loaded.manifest)

    def _catch_up(self, loaded: Loaded) -> None:
        """Update the index when the folders changed since ``loaded`` (unless another thread did)."""
        with self.lock:
            if self._loaded is not loaded:
                return
            try:  # another process updating the store: answer from this index rather than wait
                report = self._update(progress=self.progress, current=loaded.index, wait=False)
            except Exception as exc:  # whatever failed (disk full, read-only store...): keep this index
                self._update_failed(exc)
                return
            self.stale, self._failed = None, None
            if not _same(report.index, loaded.index):  # changed here, or by another process
                if self.progress and not report.up_to_date:
                    print(printable(f"amqa: documents changed; {report.summary()}", one_line=True), file=sys.stderr)
                self._loaded = self._load(report.index)
            self._follow(report.index)

    def _check_due(self) -> bool:
        """Whether to look at the folders before this question (:class:`KeeperConfig`). A hit whose
        file has gone meanwhile forces the check (the answering pipeline does)."""
        return (self._check_seconds < self.config.check_always_below
                or time.perf_counter() - self._checked_at >= self.config.check_spacing * self._check_seconds)

    def _refresh(self) -> tuple[IndexData | None, bool]:
        """Before the first question: build the index if missing, else catch up with files added,
        changed or removed since (cheap when nothing changed: one hash per file). Returns the index
        (None: load the store's as it is) and whether to follow the folders from it: not an index
        built from another folder, or when a documents folder is gone. When the update fails, or
        another process is updating the store, the store's index answers, with a warning."""
        manifest = self._read_manifest()
        if manifest is None:
            if self.progress:
                print(printable(f"amqa: no index in {self._where()} yet; building it from {self.docs}", one_line=True),
                      file=sys.stderr)
            report = self._update(progress=self.progress, on_wait=self._waiting)
            return report.index, True
        if (not all(f.path.is_dir() for f in self.folders)
                or manifest.read_folders() != folders_record(self.folders)):
            return None, False
        try:
            report = self._update(progress=self.progress, wait=False)
        except Exception as exc:
            self._update_failed(exc)
            if self._failed is not None:  # the files it failed on: not tried again on them for a while
                try:
                    self._failed = (fingerprint(planner_scan(self.folders, manifest)), self._failed[1])
                except Exception:  # best effort: a damaged manifest is reported by the load that follows
                    pass
            return None, True
        if not report.up_to_date and self.progress:
            print(printable(f"amqa: documents changed since the last index; {report.summary()}", one_line=True),
                  file=sys.stderr)
        return report.index, True

    def _moved(self, loaded: Loaded) -> bool:
        """Whether the database's index moved on since ``loaded`` (postgres: its generation)."""
        current = getattr(loaded.backend, "current_generation", None)
        if current is None or loaded.index is None:
            return False
        try:
            return bool(current() != getattr(loaded.index, "generation", None))
        except AmqaError:  # the server is away: answer from the index as it is loaded
            return False

    def _where(self) -> str:
        return self.pg_config.shown if self.pg_config is not None else str(self.store)

    def _read_manifest(self) -> Manifest | None:
        """The manifest of the index the backend holds (None: no index yet)."""
        if self.pg_config is not None:
            from amqa.index.postgres.writer import read_index

            found = read_index(self.pg_config, self.embedder)
            return found.manifest if found is not None else None
        return read_manifest(self.store)

    def _update(self, *, rebuild: bool = False, progress: bool = False, on_progress: ProgressCallback | None = None,
                current: Any = None, wait: bool = True, on_wait: Any = None) -> Any:
        """Bring the backend's index up to date with the folders: the local store's
        :func:`~amqa.index.local.store.update_index`, or the database's
        :func:`~amqa.index.postgres.writer.update_postgres`; their reports have the same fields."""
        if self.pg_config is not None:
            from amqa.index.postgres.writer import update_postgres

            return update_postgres(self.folders, self.pg_config, self.embedder, self.chunking, rebuild=rebuild,
                                   progress=progress, on_progress=on_progress, wait=wait, on_wait=on_wait)
        return update_index(self.folders, self.store, self.embedder, self.chunking, rebuild=rebuild, progress=progress,
                            on_progress=on_progress, current=current, wait=wait, on_wait=on_wait)

    def _load(self, index: Any) -> Loaded:
        """The backend over ``index``, or over the store's index when None."""
        if self.pg_config is not None:
            from amqa.index.postgres.backend import PostgresBackend
            from amqa.index.postgres.writer import read_index

            index = index if index is not None else read_index(self.pg_config, self.embedder)
            if index is None or not index.manifest.files:
                raise NoDocumentsError(f"the index in {self.pg_config.shown} is empty: add documents to {self.docs} "
                                       "and run: amqa index --backend postgres")
            return Loaded(PostgresBackend(self.pg_config, self.embedder.id), index)
        if index is None:
            index = load_index(self.store, self.embedder, self.chunking)
        if index is None or not index.chunks:
            raise NoDocumentsError(f"the index in {self.store} is empty: add documents to {self.docs} "
                                   "and run: amqa index")
        return Loaded(LocalBackend(index, self.local), index)


def _same(a: Any, b: Any) -> bool:
    """Whether two loaded indexes are the same one: the same object (local), the same generation of
    the database (postgres: every committed update raises it)."""
    if a is b:
        return True
    return a is not None and b is not None and getattr(a, "generation", None) is not None \
        and getattr(a, "config", None) == getattr(b, "config", None) and a.generation == b.generation
