"""The index on disk: segments written once, a manifest naming them, switched atomically.

Layout of a store folder::

    amqa-store.json              marks the folder as amqa's (written when amqa creates or adopts it)
    CURRENT                      name of the active index folder (replaced atomically)
    .lock                        the writers' lock, with the pid of the one holding it
    index-<time>/manifest.json   format version, embedder id and dim, chunk settings, the folders read,
                                 the segments in use, the index it replaced ("previous") and when it
                                 was published (also in links.json beside it, for the garbage
                                 collection), and per file: the segment holding it, sha256,
                                 size and mtime_ns (an unchanged size and time spare reading the file
                                 again), title, language, counts, and "pages" (where each page or slide
                                 starts in the file's text) for formats with pages
    segments/<id>/               one segment: chunks, sentences, float32 vectors (.npy, read by rows),
                                 BM25 postings, see :mod:`amqa.index.local.segments`

An update writes one new segment for the files added or changed, and a new manifest that points at it;
the rows of a removed or changed file stay in their old segment, dead: the manifest no longer names
that segment for the file. Nothing already indexed is read or rewritten to add a file. When segments
of a size pile up (more than :data:`MERGE_FACTOR` in one tier of sizes) or one is mostly dead
(:data:`DEAD_SHARE`), they are merged into one, copying rows, vectors and postings (no re-embedding). A kill at any moment leaves
``CURRENT`` naming a complete index: segments and manifests are written under temporary names, flushed,
renamed, and only then does ``CURRENT`` switch; every update first removes what a killed one left
(temporary folders, and index folders or segments no kept manifest names). amqa deletes only what it
wrote: names of its own patterns (:func:`_is_ours`), in a folder marked as a store (:data:`MARKER`);
it writes into a new or empty folder, a store, or an index of an older amqa (then marked), and
refuses any other folder, and a store that contains a documents folder or lies inside one. Readers take no lock: the
index ``CURRENT`` replaced, and any replaced less than :data:`RETIRED_GRACE` seconds ago, stay with
their segments (each manifest names the index it replaced and when it was published), and a load
that still finds its index gone reads ``CURRENT`` again. Writers take the store's lock (``.lock``,
holding the writer's pid) one at a time.

Loading checks what it reads against what the manifest and each segment's ``segment.json`` say
(fields and types, every file's size, every array's shape): a damaged store raises one
:class:`~amqa.errors.DamagedIndexError` naming ``amqa index --rebuild``; a failed write (a full disk,
a store that cannot be written) raises :class:`~amqa.errors.IndexUpdateError`, the previous index
unchanged.

What to index is decided by :mod:`amqa.index.planner` (scan, compare, read, chunk, embed), backend-free;
this module writes the result as segments (``_SegmentWriter``) and publishes the typed
:class:`~amqa.index.manifest.Manifest`.

>>> import tempfile
>>> from amqa.settings import bundled_seeds
>>> store = tempfile.TemporaryDirectory()      # a new or empty folder, or one amqa already uses
>>> report = update_index(bundled_seeds(), store.name, "hash")   # embedder: the hash test one, no model
>>> len(report.added), report.added[0], report.unchanged
(5, '000_c8fb014e83a46547.txt', [])
>>> report = update_index(bundled_seeds(), store.name, "hash")   # nothing changed: nothing embedded
>>> report.added, len(report.unchanged), report.up_to_date
([], 5, True)
>>> index = load_index(store.name, get_embedder("hash"))
>>> index.chunks[0].source, index.chunk_vectors[[0, 1]].shape
('000_c8fb014e83a46547.txt', (2, 256))
>>> store.cleanup()
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, overload

import numpy as np

from amqa._version import __version__
from amqa.embedders import Embedder, get_embedder
from amqa.errors import (DamagedIndexError, IndexBusyError, IndexMismatchError, IndexUpdateError, InvalidInputError,
                         NoDocumentsError, damaged_index, rebuild_hint)
from amqa.index import planner
from amqa.index.local.segments import Segment, SegmentError, fsync_folder, merge_segments, write_segment
from amqa.index.manifest import (FORMAT_VERSION, Counts, FileRecord, FileRecords, FolderRecord, Manifest, ManifestError,
                                 with_fields)
from amqa.index.planner import (MIN_SENTENCE_CHARS, EmbeddedBatch, PlannedDocument, PlannedFile, ProgressCallback,
                                UpdatePlan, plan_document)
from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import RACY_NS, SUPPORTED_SUFFIXES, DocumentFolder, FolderScan, Skipped, SourceFile
from amqa.types import Chunk

# FORMAT_VERSION, MIN_SENTENCE_CHARS, PlannedFile, ProgressCallback and plan_document lived here before
# amqa.index.manifest and amqa.index.planner: still importable from here.
# An update writes a segment (and makes it searchable) every SEGMENT_CHUNKS chunks: the vectors of a
# batch are held in memory until written (100k chunks with their ~670k sentences: 1.2 GB of float32
# at 384 dimensions), and each segment costs one more search per question (about 2 ms for a full one).
SEGMENT_CHUNKS = 100_000
# The first segment of an update is written after FIRST_SEGMENT_CHUNKS chunks, so that a new folder
# is searchable soon: with the default model (about 4 KB of text a second on 2 cores), 256 chunks of
# 900 characters are about a minute of embedding, while a whole manual can take an hour.
FIRST_SEGMENT_CHUNKS = 256
# Segments are merged by tiers of size (under 8, 64, 512, ... chunks): when a tier holds more than
# MERGE_FACTOR segments they become one of the next tier, so adding files one by one costs O(log n)
# rewrites per chunk and a search meets a few segments per tier (a small one costs about 0.1 ms a
# question). Segments over SEGMENT_CHUNKS / MERGE_FACTOR chunks are never merged (a merge then writes
# at most about SEGMENT_CHUNKS chunks): at 1M chunks, merging the small segments of a replicated
# store all at once took 114 s and 11.8 GB.
MERGE_FACTOR = 8
# A segment with more than this share of dead chunks is rewritten (with the small ones, if merging).
DEAD_SHARE = 0.5


# --- the loaded index --------------------------------------------------------------------------

class LiveRows:
    """The live rows of a list of segments, numbered from 0 in segment order (the "logical" rows the
    rest of amqa sees), and where each is: its segment and its row there."""

    def __init__(self, counts: Sequence[int], live: Sequence[np.ndarray | None]) -> None:
        self.live = list(live)  # per segment: the sorted live rows, or None when all are live
        sizes = [n if rows is None else len(rows) for n, rows in zip(counts, live)]
        self.base = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.base[1:])
        #: Per segment: a boolean mask of its dead rows (None when none is dead), for searches.
        self.dead: list[np.ndarray | None] = []
        for n, rows in zip(counts, live):
            if rows is None:
                self.dead.append(None)
            else:
                mask = np.ones(n, dtype=bool)
                mask[rows] = False
                self.dead.append(mask)

    def __len__(self) -> int:
        return int(self.base[-1])

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment, row in it) of each logical row."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row out of range (0..{len(self) - 1})")
        seg = np.searchsorted(self.base, rows, side="right") - 1
        local = rows - self.base[seg]
        for s, live in enumerate(self.live):
            if live is not None:
                m = seg == s
                local[m] = live[local[m]]
        return seg, local

    def locate_one(self, row: int) -> tuple[int, int]:
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"row {row} out of range (0..{len(self) - 1})")
        s = int(np.searchsorted(self.base, row, side="right")) - 1
        local = row - int(self.base[s])
        live = self.live[s]
        return s, int(live[local]) if live is not None else local

    def ranges(self, s: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The logical rows of the live row runs ``lo[i]:hi[i]`` of segment ``s``, concatenated."""
        sizes = hi - lo
        if not sizes.sum():
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        return self.logical(s, starts + np.arange(int(sizes.sum())))

    def logical(self, s: int, local: np.ndarray) -> np.ndarray:
        """The logical rows of live rows ``local`` of segment ``s``."""
        live = self.live[s]
        local = np.asarray(local, dtype=np.int64)
        return self.base[s] + (local if live is None else np.searchsorted(live, local))


class ChunkTable(Sequence[Chunk]):
    """The live chunks of an index, as a read-only sequence; each :class:`Chunk` is built when asked for."""

    def __init__(self, index: "IndexData") -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.chunk_rows)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s, local = self._index.chunk_rows.locate_one(int(i))
        return self._index.segments[s].chunk(local)

    def __iter__(self) -> Iterator[Chunk]:
        for seg, live in zip(self._index.segments, self._index.chunk_rows.live):
            for r in (range(seg.n_chunks) if live is None else live.tolist()):
                yield seg.chunk(r)


class VectorTable:
    """The vectors of an index's live chunks or sentences, gathered from the segments on demand:
    ``table[rows]`` is a float32 array (``np.asarray(table)`` copies them all: for small indexes)."""

    def __init__(self, index: "IndexData", kind: str) -> None:
        self._index = index
        self._kind = kind
        self._rows = index.chunk_rows if kind == "chunks" else index.sentence_rows
        self.dim = int(index.manifest.dim or (index.segments[0].dim if index.segments else 0))

    def _take(self, s: int, local: np.ndarray) -> np.ndarray:
        return self._index.segments[s].take(self._kind, local)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self._rows), self.dim)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            s, local = self._rows.locate_one(int(key))
            return self._take(s, np.array([local]))[0]
        if isinstance(key, slice):
            rows = np.arange(*key.indices(len(self)))
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
        return self.take(rows)

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        segs, local = self._rows.locate(rows)
        if len(self._index.segments) == 1:
            return self._take(0, local)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for s in np.unique(segs):
            m = segs == s
            out[m] = self._take(int(s), local[m])
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.take(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)


class KeyTable(Sequence[tuple[str, int, int]]):
    """The ``(source, start, end)`` of each live embedded sentence, row-aligned with its vectors."""

    def __init__(self, index: "IndexData") -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.sentence_rows)

    @overload
    def __getitem__(self, i: int) -> tuple[str, int, int]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[str, int, int]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, int, int] | list[tuple[str, int, int]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        s, local = self._index.sentence_rows.locate_one(int(i))
        seg = self._index.segments[s]
        fi, start, end = (int(x) for x in seg.sent_meta[local, :3])
        return (seg.sources[fi], start, end)

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        for seg, live in zip(self._index.segments, self._index.sentence_rows.live):
            meta = np.asarray(seg.sent_meta[:, :3] if live is None else seg.sent_meta[live, :3]).tolist()
            for fi, start, end in meta:
                yield (seg.sources[fi], start, end)


def _live_files(seg: Segment, files: Mapping[str, FileRecord]) -> np.ndarray:
    """Which of a segment's files are live: those the manifest says it holds (a manifest's records are
    read as they are, none built: :meth:`FileRecords.in_segment`)."""
    sid = seg.id
    if isinstance(files, FileRecords):
        return np.fromiter(files.in_segment(sid, seg.sources), dtype=bool, count=len(seg.sources))
    return np.fromiter((getattr(files.get(src), "segment", None) == sid for src in seg.sources), dtype=bool,
                       count=len(seg.sources))


class IndexData:
    """An index as loaded: its manifest and its segments (opened, read on demand), seen through the live rows.

    ``chunks``, ``chunk_vectors``, ``sentence_keys`` and ``sentence_vectors`` are row-aligned views of
    the live chunks and sentences; nothing is read from disk until a row is asked for.
    """

    def __init__(self, manifest: Manifest, segments: Sequence[Segment], path: Path | None = None) -> None:
        #: Replaced (never changed) when the files' stamps are recorded again.
        self.manifest = manifest
        self.segments = list(segments)
        self.path = path
        self._where: dict[str, tuple[int, int]] = {}
        chunk_live: list[np.ndarray | None] = []
        sent_live: list[np.ndarray | None] = []
        self.live_files: list[np.ndarray] = []
        for s, seg in enumerate(self.segments):
            mask = _live_files(seg, manifest.files)
            self.live_files.append(mask)
            for fi in np.flatnonzero(mask).tolist():
                self._where[seg.sources[fi]] = (s, fi)
            if mask.all():
                chunk_live.append(None)
                sent_live.append(None)
            else:
                chunk_live.append(np.flatnonzero(np.repeat(mask, np.diff(seg.src_chunks))))
                sent_live.append(np.flatnonzero(np.repeat(mask, np.diff(seg.src_sents))))
        self.chunk_rows = LiveRows([seg.n_chunks for seg in self.segments], chunk_live)
        self.sentence_rows = LiveRows([seg.n_sentences for seg in self.segments], sent_live)

    @property
    def files(self) -> Mapping[str, FileRecord]:
        return self.manifest.files

    @property
    def chunks(self) -> ChunkTable:
        return ChunkTable(self)

    @property
    def chunk_vectors(self) -> VectorTable:
        return VectorTable(self, "chunks")

    @property
    def sentence_vectors(self) -> VectorTable:
        return VectorTable(self, "sentences")

    @property
    def sentence_keys(self) -> KeyTable:
        return KeyTable(self)

    def locate_source(self, source: str) -> tuple[int, int] | None:
        """(segment position, file index in it) of a live file, or None."""
        return self._where.get(source)

    def chunk_row(self, chunk_id: str) -> int:
        """The logical row of a live chunk, from its id (``source#ordinal``); KeyError if none."""
        source, _, ordinal = chunk_id.rpartition("#")
        where = self._where.get(source)
        if where is None or not ordinal.isdigit():
            raise KeyError(chunk_id)
        s, fi = where
        seg = self.segments[s]
        local = int(seg.src_chunks[fi]) + int(ordinal)
        if local >= int(seg.src_chunks[fi + 1]):
            raise KeyError(chunk_id)
        return int(self.chunk_rows.logical(s, np.array([local]))[0])


@dataclass(kw_only=True)
class IndexReport(planner.UpdateReport):
    """What :func:`update_index` did."""

    store: Path
    #: Segments merged into one by this update (0: none).
    merged_segments: int = 0
    #: Seconds from the start of the update until its first new segment was searchable.
    first_searchable_seconds: float | None = None
    index: IndexData | None = field(default=None, repr=False)  # the index as it now is, loaded

    @property
    def target(self) -> str:
        return str(self.store)


Docs = planner.Docs
as_folders = planner.as_folders


def folders_record(folders: Sequence[DocumentFolder]) -> tuple[FolderRecord, ...]:
    """The manifest's record of the folders an index reads (resolved paths and prefixes)."""
    return tuple(FolderRecord(str(Path(f.path).resolve()), f.prefix) for f in folders)


def recorded_folders(manifest: Manifest) -> tuple[FolderRecord, ...]:
    """The folders a manifest says its index reads: :meth:`Manifest.read_folders`."""
    return manifest.read_folders()


def known_stamps(manifest: Manifest) -> dict[str, dict]:
    """What a manifest recorded of each file it indexed or could not read: :meth:`Manifest.stamps`."""
    return manifest.stamps()


# --- reading --------------------------------------------------------------------------------

#: A reader that read ``CURRENT`` just before two updates switched it twice may find the index it
#: named gone: it reads ``CURRENT`` again, up to this many times (each update keeps the indexes
#: retired in the last RETIRED_GRACE seconds, so a retry is rare).
LOAD_ATTEMPTS = 8


def _pointer(store: Path) -> str | None:
    """The index folder ``CURRENT`` names, or None when there is none (no index yet, or the store's
    path cannot be a folder); a ``CURRENT`` that cannot be read or names no index folder is damage."""
    try:
        name = (store / "CURRENT").read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise damaged_index(store, f"CURRENT cannot be read: {_reason(exc)}") from None
    if not name.startswith("index-") or name != Path(name).name or name.endswith(".tmp"):
        raise damaged_index(store, f"CURRENT names {name[:80]!r}, not an index folder")
    return name


def _quiet_pointer(store: Path) -> str | None:
    """:func:`_pointer`, None when it cannot be read."""
    try:
        return _pointer(store)
    except DamagedIndexError:
        return None


def _reason(exc: BaseException) -> str:
    """An OS error as "what: 'file'" (its errno's words), anything else as its message."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: '{exc.filename}'" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def current_index_dir(store: str | os.PathLike) -> Path | None:
    """The active index folder of ``store``, or ``None`` when there is no index yet (or it cannot be read)."""
    name = _quiet_pointer(Path(store))
    if name is None:
        return None
    path = Path(store) / name
    return path if (path / "manifest.json").is_file() else None


def _read_current(store: Path) -> tuple[Path, Manifest] | None:
    """The active index folder and its manifest (its format version and shape checked), or None when
    there is no index. A folder that vanished because ``CURRENT`` moved on meanwhile is followed to
    the new one."""
    for _ in range(LOAD_ATTEMPTS):
        name = _pointer(store)
        if name is None:
            return None
        path = store / name
        try:
            text = (path / "manifest.json").read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError) as exc:
            if _quiet_pointer(store) != name:
                continue  # two updates switched the index since we read CURRENT: read it again
            raise damaged_index(store, f"CURRENT names {name}, whose manifest is missing: {_reason(exc)}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise damaged_index(store, f"{name}/manifest.json cannot be read: {_reason(exc)}") from None
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
                raise ValueError("no files listed")
        except (ValueError, RecursionError) as exc:
            raise damaged_index(store, f"{name}/manifest.json: {exc}") from None
        _check_version(raw.get("format_version"), store)
        try:
            return path, Manifest.from_dict(raw, adopt=True)  # (raw is ours alone)
        except ManifestError as exc:
            raise damaged_index(store, f"manifest.json: {exc}") from None
    raise damaged_index(store, f"CURRENT changed {LOAD_ATTEMPTS} times while the index was read")


def read_manifest(store: str | os.PathLike) -> Manifest | None:
    """The active index's manifest, or None when there is no index; one of another format version, or
    damaged, is refused with the command that rebuilds it."""
    found = _read_current(Path(store))
    return found[1] if found is not None else None


def _check_version(version: object, store: str | os.PathLike) -> None:
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {store} has format version {version}, this amqa reads version "
            f"{FORMAT_VERSION}. {rebuild_hint(store)}"
        )


def check_manifest(manifest: Manifest, store: str | os.PathLike, embedder: Embedder,
                   settings: ChunkSettings | None = None) -> None:
    """Refuse an index made by another format version, embedder or chunking, saying how to rebuild
    (its shape was checked when it was read: :meth:`Manifest.from_dict`)."""
    rebuild = rebuild_hint(store)
    _check_version(manifest.format_version, store)
    built_with = manifest.embedder_id
    if built_with != embedder.id:
        raise IndexMismatchError(
            f"the index in {store} was built with embedder '{built_with}', but '{embedder.id}' is "
            f"selected. Select the same embedder (--embedder), or rebuild with: "
            f"amqa index --store {store} --rebuild --embedder ..."
        )
    if settings is not None and manifest.chunking != settings:
        recorded = manifest.chunking.to_dict() if manifest.chunking is not None else None
        raise IndexMismatchError(
            f"the index in {store} was built with chunk settings {recorded}, "
            f"not {settings.to_dict()}. {rebuild}"
        )


def load_index(store: str | os.PathLike, embedder: Embedder,
               settings: ChunkSettings | None = None, *, reuse: Sequence[Segment] = ()) -> IndexData | None:
    """Load the active index of ``store`` (``None`` if there is none), checked against ``embedder``.
    Segments already open in ``reuse`` are not opened again. Needs no lock: an update that switches
    the index meanwhile is followed. A damaged index (a file missing, cut short, of another shape than
    its manifest and segment say) is refused with :class:`DamagedIndexError`, naming the command that
    rebuilds it."""
    store = Path(store)
    opened = {seg.id: seg for seg in reuse}
    for attempt in range(LOAD_ATTEMPTS):
        found = _read_current(store)
        if found is None:
            return None
        path, manifest = found
        check_manifest(manifest, store, embedder, settings)
        try:
            segments = [opened.get(sid) or Segment(store / "segments" / sid) for sid in manifest.segments]
            dim = manifest.dim
            for seg in segments:
                if seg.dim != dim:
                    raise SegmentError(f"segment {seg.id} holds vectors of {seg.dim} dimensions, not {dim}")
            data = IndexData(manifest, segments, path)
            if manifest.counts is not None:
                for kind, counted, rows in (("chunks", manifest.counts.chunks, data.chunk_rows),
                                            ("sentences", manifest.counts.sentences, data.sentence_rows)):
                    if counted != len(rows):
                        raise SegmentError(f"the manifest counts {counted} {kind}, its segments hold {len(rows)}")
            return data
        except (SegmentError, KeyError, TypeError, ValueError, IndexError) as exc:
            if _quiet_pointer(store) != path.name and attempt < LOAD_ATTEMPTS - 1:
                continue  # an update switched the index while we read it: read the new one
            raise damaged_index(store, str(exc)) from None
    return None  # pragma: no cover


# --- writing --------------------------------------------------------------------------------

#: Called when an update must wait for the store's lock, with the holder's pid (None if unknown).
WaitCallback = Callable[[int | None], None]


def update_index(docs: Docs, store: str | os.PathLike, embedder: Embedder | str | None = None,
                 settings: ChunkSettings | None = None, rebuild: bool = False, progress: bool = False,
                 log: Callable[[str], None] | None = None, *, on_progress: ProgressCallback | None = None,
                 current: IndexData | None = None, wait: bool = True,
                 on_wait: WaitCallback | None = None) -> IndexReport:
    """Bring the index in ``store`` up to date with the folder ``docs`` (or several
    folders, :class:`~amqa.ingest.documents.DocumentFolder`, each file cited with its folder's prefix).

    Only new or changed files are read and embedded (a file whose size and modification time are
    unchanged is not even read; otherwise its sha256 decides), into one new segment; removed files'
    rows are left dead; an unchanged folder writes nothing but, when they moved, the files' recorded
    times. The new manifest is written beside the old one and made active by one atomic rename, so an
    interrupted update leaves the previous index usable. ``current``, the store's active index
    already in memory, spares loading it again (its open segments are shared with the result);
    ``on_progress`` hears of each file read and each batch embedded.

    One update at a time per store: while another process holds the store's lock, this one waits
    (``on_wait`` hears of it first, with that process's pid), or with ``wait=False`` raises
    :class:`IndexBusyError` at once. Every update starts by removing what a killed one left (folders
    no manifest names). A failed write (a full disk, a store that cannot be written) raises
    :class:`IndexUpdateError`, saying what to do; the previous index is then unchanged.
    """
    try:
        return _update(docs, Path(store), embedder, settings, rebuild, progress, log, on_progress, current, wait,
                       on_wait)
    except OSError as exc:
        raise IndexUpdateError(_update_failure(Path(store), exc)) from exc


def _update_failure(store: Path, exc: OSError) -> str:
    """What went wrong writing ``store`` and what to do about it, on one line."""
    where = f"could not update the index in '{store}' ({_reason(exc)})"
    inside = exc.filename is None or _real(exc.filename).is_relative_to(_real(store))
    code = exc.errno
    if code is None or code in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)):
        todo = "Free some disk space, then run amqa index again (or put the index elsewhere with --store DIR)"
    elif not inside:
        todo = f"Check '{exc.filename}', then run amqa index again"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo = f"Make '{store}' writable, or put the index elsewhere with --store DIR"
    elif code in (errno.ENOTDIR, errno.EEXIST, errno.ENOENT):
        todo = "Put the index in a folder that can be created, with --store DIR"
    else:
        todo = "Run amqa index again; if it fails the same way, put the index elsewhere with --store DIR"
    return f"{where}. {todo}; the previous index, if any, is unchanged."


def _update(docs: Docs, store: Path, embedder: Embedder | str | None, settings: ChunkSettings | None,
            rebuild: bool, progress: bool, log: Callable[[str], None] | None, on_progress: ProgressCallback | None,
            current: IndexData | None, wait: bool, on_wait: WaitCallback | None) -> IndexReport:
    started = time.perf_counter()
    embedder = get_embedder(embedder)
    store = Path(store)
    folders = as_folders(docs)
    for folder in folders:
        if not Path(folder.path).is_dir():
            raise InvalidInputError(f"documents folder not found: '{folder.path}'. "
                                    "Pass an existing folder with --docs DIR.")
    _check_apart(store, folders)
    _check_ours(store)
    report = IndexReport(store=store)
    store.mkdir(parents=True, exist_ok=True)
    with _locked(store, wait, on_wait) as unwritable:
        if unwritable is None:  # a read-only store is only read: nothing to clean, nothing to write
            _mark(store)
            _remove_temporaries(store)
            _collect_garbage(store)
        old = None
        if not rebuild:
            active = current_index_dir(store)
            if current is not None and current.path is not None and active is not None and current.path == active:
                check_manifest(current.manifest, store, embedder, settings)
                old = current
            else:
                old = load_index(store, embedder, settings, reuse=current.segments if current is not None else ())
        scanned_ns = time.time_ns()
        before = old.manifest if old is not None else None
        scan = planner.scan(folders, before)
        # Files read by another reader version are read again: their text may differ.
        plan = planner.compare(scan, before)
        report.added, report.changed, report.unchanged = list(plan.added), list(plan.changed), list(plan.unchanged)
        report.removed, report.skipped = list(plan.removed), list(plan.skipped)
        if settings is None:
            settings = before.chunking if before is not None and before.chunking is not None else ChunkSettings()
        if old is not None and plan.up_to_date:
            _keep_skipped(old, scan, report)
            _refresh_stamps(old, scan, scanned_ns)
            report.index = old
            report.total_seconds = time.perf_counter() - started
            return report
        if unwritable is not None:  # up to date, a read-only store was fine; now it has to change
            raise unwritable
        writer = _SegmentWriter(store, folders, embedder, settings, old, plan, scan, scanned_ns, report, started)
        writer.remove(plan.removed)
        planner.write_files(plan.to_read, writer, embedder, settings, first_batch=FIRST_SEGMENT_CHUNKS,
                            batch_chunks=SEGMENT_CHUNKS, progress=progress, on_progress=on_progress)
        report.index = writer.finish()
    report.total_seconds = time.perf_counter() - started
    if log:
        log(report.summary())
    return report


class _SegmentWriter:
    """One update of a local store, after the plan (an :class:`~amqa.index.planner.IndexWriter`: the
    planner reads, chunks and embeds the files in batches, :func:`~amqa.index.planner.write_files`): it
    writes each batch as a segment (merging small ones) and publishes a manifest after each, so that
    what is written is searchable at once (a segment every :data:`SEGMENT_CHUNKS` chunks, the first
    after :data:`FIRST_SEGMENT_CHUNKS`). Its state, carried from batch to batch:

    - ``files``: the manifest's record of each file the index holds so far (removed files left out);
    - ``segments``: the segments in use; ``dim``: the vectors' dimension (0 until known);
    - ``done``: the files whose record is their current content (unchanged, or written by now), whose
      stamps the next manifest records;
    - ``published``: the last index published (None until one is).
    """

    def __init__(self, store: Path, folders: Sequence[DocumentFolder], embedder: Embedder, settings: ChunkSettings,
                 old: IndexData | None, plan: UpdatePlan, scan: FolderScan, scanned_ns: int, report: IndexReport,
                 started: float) -> None:
        self.store, self.folders, self.embedder, self.settings = store, folders, embedder, settings
        self.old, self.report, self.started = old, report, started
        self.reader_version = plan.reader_version
        self.scanned_ns = scanned_ns
        # The records as held (FileRecords.raw): publishing after a change to a few files builds no
        # record of the others and writes their dicts back as read. (It did not close the gap of
        # bench/update_path.py's add and remove against f9d1bc4: the folder scan dominates.)
        self.files: dict[str, FileRecord | dict[str, Any]] = old.manifest.records.raw() if old else {}
        self.segments: list[Segment] = list(old.segments) if old else []
        self.dim = old.manifest.dim if old else 0
        self.stamps = {f.source: f for f in scan.files}
        self.done = set(plan.unchanged)
        self.published: IndexData | None = None

    def remove(self, sources: Sequence[str]) -> None:
        """Files gone from the folders: out of the next manifest (their rows left dead in their segment)."""
        for source in sources:
            self.files.pop(source, None)

    def skip(self, skipped: Skipped) -> None:
        """A file to index that cannot be used now: skipped; if it was indexed before, removed (its old
        rows are dead)."""
        self.report.record_skip(skipped)
        self.files.pop(skipped.source, None)

    def reuse(self, planned: PlannedDocument) -> tuple[np.ndarray, np.ndarray] | None:
        return _same_plan(self.old, planned.source, planned.chunks, planned.sentences) if self.old is not None else None

    def write(self, embedded: EmbeddedBatch) -> None:
        """Write the embedded batch as a segment, merge small segments, publish: searchable now."""
        self.report.embed_seconds += embedded.embed_seconds
        self.report.embedded_texts += embedded.embedded_texts
        planned = embedded.files
        self.dim = self.dim or (planned[0].chunk_vectors.shape[1] if planned else self.embedder.dim)
        dim = self.dim
        segment = _write_segment(self.store, lambda folder: write_segment(folder, planned, dim))
        self.segments.append(segment)
        for file, record in zip(planned, embedded.records):
            self.files[file.source] = replace(record, segment=segment.id)
            self.done.add(file.source)
        self._compact_and_publish()
        if self.report.first_searchable_seconds is None:
            self.report.first_searchable_seconds = time.perf_counter() - self.started

    def finish(self) -> IndexData:
        """The index as the update leaves it: published now when only files were removed."""
        if not self.files:
            raise NoDocumentsError(_no_documents_message(" and ".join(str(f.path) for f in self.folders),
                                                         self.report.skipped))
        if self.published is None:  # only removals
            self.dim = self.dim or self.embedder.dim
            self._compact_and_publish()
        assert self.published is not None
        return self.published

    def _compact_and_publish(self) -> None:
        view = FileRecords(self.files)
        in_use = {view.segment_of(source) for source in view}
        self.segments = [seg for seg in self.segments if seg.id in in_use]
        self.segments, merged = _compact(self.store, self.segments, self.files, self.dim)
        self.report.merged_segments += merged
        self.published = self._publish()

    def _publish(self) -> IndexData:
        """Write the manifest of the index as it now is and switch to it."""
        files = self.files
        view = FileRecords(files)
        for source in self.done & files.keys():
            stamp = self.stamps[source]
            if (view.sha256_of(source), view.size_mtime_of(source)) != (stamp.sha256, (stamp.size, stamp.mtime_ns)):
                files[source] = with_fields(files[source], sha256=stamp.sha256, size=stamp.size, mtime_ns=stamp.mtime_ns)
        old = self.old.manifest if self.old is not None else None
        manifest = Manifest(
            files=FileRecords(dict(sorted(files.items()))), format_version=FORMAT_VERSION, reader_version=self.reader_version,
            amqa_version=__version__, embedder_id=self.embedder.id, dim=int(self.dim), chunking=self.settings,
            docs=str(Path(self.folders[0].path).resolve()), folders=folders_record(self.folders),
            created=old.created if old is not None else _now(), updated=_now(),
            skipped_files=tuple(self.report.skipped), segments=tuple(seg.id for seg in self.segments),
            scanned_ns=self.scanned_ns)
        data = IndexData(manifest, self.segments)
        data.manifest = replace(manifest, counts=Counts(len(files), len(data.chunk_rows), len(data.sentence_rows),
                                                        len(self.segments)))
        _write_manifest(self.store, data)
        return data


def _keep_skipped(old: IndexData, scan: FolderScan, report: IndexReport) -> None:
    """An up-to-date index still reports the files it skipped when it was written (if still there)."""
    seen = {x.source for x in report.skipped}
    present = {f.source for f in scan.files}
    report.skipped += [s for s in old.manifest.skipped_files if s.source not in seen and s.source in present]


def _refresh_stamps(old: IndexData, scan: FolderScan, scanned_ns: int) -> None:
    """Record the files' sizes and times when they moved (a file touched, an index written before they
    were recorded) or were too recent to trust (:data:`~amqa.ingest.documents.RACY_NS`), so that the next
    check need not read them: only the manifest is replaced, atomically, in the active index."""
    files = old.manifest.records
    trusted = old.manifest.scanned_ns
    stale = [f for f in scan.files if (known := files.size_mtime_of(f.source)) is not None and (
        known != (f.size, f.mtime_ns) or f.mtime_ns + RACY_NS >= trusted)]
    if not stale or old.path is None:
        return
    records = files.raw()
    for f in stale:
        records[f.source] = with_fields(records[f.source], sha256=f.sha256, size=f.size, mtime_ns=f.mtime_ns)
    old.manifest = replace(old.manifest, files=FileRecords(records), scanned_ns=scanned_ns)
    tmp = old.path / "manifest.json.tmp"
    try:
        tmp.write_text(json.dumps(old.manifest.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, old.path / "manifest.json")
    except OSError:  # a read-only store: the files are hashed again next time, nothing worse
        tmp.unlink(missing_ok=True)


def stored_vectors(index: IndexData, planned: PlannedDocument) -> tuple[np.ndarray, np.ndarray] | None:
    """The chunk and sentence vectors ``index`` holds for exactly this planned document (the same
    chunks and sentences at the same places), or None: what another backend's writer reuses to copy a
    local store without embedding again (:func:`amqa.index.postgres.writer.update_postgres`'s ``reuse_from``)."""
    return _same_plan(index, planned.source, planned.chunks, planned.sentences)


def _same_plan(old: IndexData, source: str, chunks: Sequence[Chunk],
               sentences: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The old vectors of a file whose chunks and embedded sentences are the same texts at the same
    places as before (so are their vectors), or None when anything differs."""
    where = old.locate_source(source)
    if where is None:
        return None
    seg = old.segments[where[0]]
    fi = where[1]
    c_lo, c_hi = int(seg.src_chunks[fi]), int(seg.src_chunks[fi + 1])
    s_lo, s_hi = int(seg.src_sents[fi]), int(seg.src_sents[fi + 1])
    if c_hi - c_lo != len(chunks):
        return None
    if [(int(a), int(b)) for a, b in seg.sent_meta[s_lo:s_hi, 1:3]] != list(sentences):
        return None
    same = all((o.id, o.start, o.end, o.text, o.sentences) == (c.id, c.start, c.end, c.text, c.sentences)
               for o, c in zip((seg.chunk(r) for r in range(c_lo, c_hi)), chunks))
    if not same:
        return None
    return seg.readers["chunks"].take(np.arange(c_lo, c_hi)), seg.readers["sentences"].take(np.arange(s_lo, s_hi))


def _write_segment(store: Path, write: Callable[[Path], None]) -> Segment:
    """Write a segment under a temporary name, flushed, then rename it into ``segments/``."""
    name = _new_name("seg")
    base = store / "segments"
    base.mkdir(exist_ok=True)
    tmp = base / (name + ".tmp")
    try:
        write(tmp)
        os.rename(tmp, base / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Segment(base / name)


def _compact(store: Path, segments: list[Segment], files: dict[str, FileRecord | dict[str, Any]],
             dim: int) -> tuple[list[Segment], int]:
    """Merge the segments of a size tier into one when the tier holds more than :data:`MERGE_FACTOR`,
    and rewrite a segment whose rows are mostly dead (:data:`DEAD_SHARE`). A large segment is left
    alone unless it is mostly dead: adding a file never rewrites the bulk of the index. The records
    of the files moved name the new segment."""
    view = FileRecords(files)
    live = [_live_files(seg, view) for seg in segments]
    live_chunks = [int(np.diff(seg.src_chunks)[m].sum()) for seg, m in zip(segments, live)]
    dead_heavy = {i for i, seg in enumerate(segments) if seg.n_chunks and 1 - live_chunks[i] / seg.n_chunks > DEAD_SHARE}
    chosen = set(dead_heavy)
    tiers: dict[int, list[int]] = {}
    for i, n in enumerate(live_chunks):
        if n < SEGMENT_CHUNKS // MERGE_FACTOR:
            tiers.setdefault(int(math.log(max(n, 1), MERGE_FACTOR)), []).append(i)
    for members in tiers.values():
        if len(members) > MERGE_FACTOR:
            chosen |= set(members)
    if not chosen:
        return segments, 0
    order = sorted(chosen)
    parts = [(segments[i], np.flatnonzero(live[i])) for i in order]
    merged = _write_segment(store, lambda folder: merge_segments(folder, parts, dim))
    for seg, keep in parts:
        for fi in keep.tolist():
            source = seg.sources[fi]
            files[source] = with_fields(files[source], segment=merged.id)
    kept = [seg for i, seg in enumerate(segments) if i not in chosen]
    return kept + [merged], len(order)


#: An index folder replaced by a newer one stays (with its segments) while it is the previous one, or
#: for this many seconds after it was replaced: a reader that read ``CURRENT`` just before still
#: finds it (load_index also reads CURRENT again when it does not).
RETIRED_GRACE = 60.0


def _write_manifest(store: Path, data: IndexData) -> None:
    """Write ``data``'s manifest as a new index folder and switch ``CURRENT`` to it; then remove what
    neither it nor the indexes it recently replaced use."""
    previous = _quiet_pointer(store)
    name = _new_name("index")
    # previous: the chain the garbage collection follows
    data.manifest = manifest = replace(data.manifest, previous=previous, published=time.time())
    tmp = store / (name + ".tmp")
    tmp.mkdir()
    try:
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_dict(), ensure_ascii=False), encoding="utf-8")
        # What the garbage collection needs, without parsing the manifest (megabytes for 10k files).
        (tmp / "links.json").write_text(json.dumps(manifest.links()), encoding="utf-8")
        fsync_folder(tmp)
        final = store / name
        os.rename(tmp, final)
        pointer = store / "CURRENT.tmp"
        pointer.write_text(name + "\n", encoding="utf-8")
        with open(pointer, "rb") as f:
            os.fsync(f.fileno())
        os.replace(pointer, store / "CURRENT")  # the switch: atomic on POSIX and Windows
        fsync_folder(store)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.path = final
    _collect_garbage(store)


def _collect_garbage(store: Path) -> None:
    """Remove the index folders and segments no reader can need (the lock is held: no writer is active).

    Kept: the active index (``CURRENT``), the one it replaced, and each older one replaced less than
    :data:`RETIRED_GRACE` seconds ago (the manifests' ``previous`` and ``published`` fields chain them),
    with the segments they use. Removed: the other index folders and segments amqa wrote (named as it
    names them: :func:`_is_ours`), such as those of an update killed before it switched ``CURRENT``;
    nothing else, and nothing at all in a folder not marked as a store. When ``CURRENT`` or its
    manifest cannot be read, nothing is removed (``amqa index --rebuild`` then replaces them).
    """
    if not _is_marked(store):
        return
    try:
        name = _pointer(store)
    except DamagedIndexError:
        return
    kept: dict[str, dict] = {}
    now = time.time()
    while name is not None and name not in kept:
        try:
            manifest = _links(store / name)
        except (OSError, ValueError, RecursionError):
            if not kept:
                return  # the active manifest is unreadable: remove nothing
            break
        is_current = not kept
        kept[name] = manifest
        previous = manifest.get("previous")
        published = manifest.get("published")
        if not is_current and not (isinstance(published, (int, float)) and 0 <= now - published < RETIRED_GRACE):
            break  # `previous` was replaced too long ago
        name = previous if isinstance(previous, str) else None
    used: set[str] = set()
    for manifest in kept.values():
        segments = manifest.get("segments")
        if isinstance(segments, list):
            used.update(x for x in segments if isinstance(x, str))
    for old in _entries(store):
        if _is_ours(old.name, "index") and old.name not in kept:
            _remove(old)
    for seg in _entries(store / "segments"):
        if _is_ours(seg.name, "seg") and seg.name not in used:
            _remove(seg)


def _links(index: Path) -> dict:
    """An index folder's ``previous``, ``published`` and ``segments``: from its small ``links.json``
    (from the manifest for an index written before links.json was)."""
    for name in ("links.json", "manifest.json"):
        try:
            links = json.loads((index / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            if name == "manifest.json":
                raise
            continue
        if not isinstance(links, dict):
            raise ValueError(f"{index.name}/{name} is not an object")
        return links
    raise FileNotFoundError(index)  # pragma: no cover


def _remove_temporaries(store: Path) -> None:
    """What an update that was killed left half-written (the lock is ours: no writer is active): the
    temporary names amqa writes (``index-*.tmp``, ``segments/seg-*.tmp``, ``CURRENT.tmp``, an index's
    ``manifest.json.tmp``), only those, and only in a folder marked as a store."""
    if not _is_marked(store):
        return
    leftovers = [store / "CURRENT.tmp"]
    for entry in _entries(store):
        if _is_ours(entry.name, "index", tmp=True):
            leftovers.append(entry)
        elif _is_ours(entry.name, "index"):
            leftovers.append(entry / "manifest.json.tmp")  # from _refresh_stamps
    leftovers += [seg for seg in _entries(store / "segments") if _is_ours(seg.name, "seg", tmp=True)]
    for path in leftovers:
        _remove(path)


# --- what amqa may write and delete -----------------------------------------------------------

#: The file that marks a folder as an index store, written when amqa creates the store (or adopts
#: one an older amqa wrote): amqa deletes nothing in a folder without it.
MARKER = "amqa-store.json"
#: The names amqa gives what it writes in a store: ``index-<time>-<6 hex digits>`` and
#: ``segments/seg-<time>-<8 hex digits>``, each first written as ``<name>.tmp``. The clean-up and the
#: garbage collection remove nothing else (a user's ``index-2024/`` or ``notes.tmp`` stays).
_HEX_DIGITS = {"index": 6, "seg": 8}
_NAMES = {kind: re.compile(rf"{kind}-\d{{8}}T\d{{6}}-[0-9a-f]{{{n}}}(\.tmp)?") for kind, n in _HEX_DIGITS.items()}


def _new_name(kind: str) -> str:
    """A new name for an index folder (``kind`` "index") or a segment ("seg"): its time, random digits.

    >>> _is_ours(_new_name("seg"), "seg") and not _is_ours(_new_name("seg") + ".tmp", "seg")
    True
    """
    return f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:_HEX_DIGITS[kind]]}"


def _is_ours(name: str, kind: str, tmp: bool = False) -> bool:
    """Whether ``name`` is one amqa gives an index folder or segment (``kind``), temporary or not.

    >>> _is_ours("index-20250101T120000-0a1b2c", "index"), _is_ours("index-2024", "index")
    (True, False)
    >>> _is_ours("seg-20250101T120000-0a1b2c3d.tmp", "seg", tmp=True), _is_ours("backup.tmp", "seg", tmp=True)
    (True, False)
    """
    match = _NAMES[kind].fullmatch(name)
    return match is not None and bool(match.group(1)) == tmp


def _is_marked(store: Path) -> bool:
    return (store / MARKER).is_file()


def _entries(folder: Path) -> list[Path]:
    """What ``folder`` holds (nothing, if it is missing or not a folder)."""
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(path: Path) -> None:
    """Remove a file or folder amqa wrote; a link is removed, never followed."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _real(path: str | os.PathLike) -> Path:
    """``path`` with its links resolved as far as they can be (an unreadable link is left as it is)."""
    try:
        return Path(os.path.realpath(path))
    except OSError:  # a link that cannot be read, such as /proc/1/cwd
        return Path(os.path.abspath(path))


def _check_apart(store: Path, folders: Sequence[DocumentFolder]) -> None:
    """Refuse a store that is a documents folder, contains one or lies inside one: its own files would
    be indexed ("1 added" at every update) and the documents mixed with what the store removes. A
    store under a hidden folder of a documents folder is never scanned, so it is allowed: the default
    ``~/.cache/amqa/stores/...`` with ``--docs ~``."""
    where = _real(store)
    for folder in folders:
        docs = _real(folder.path)
        if where == docs:
            problem = f"the index folder '{store}' is the documents folder"
        elif docs.is_relative_to(where):
            problem = f"the documents folder '{folder.path}' is inside the index folder '{store}'"
        elif where.is_relative_to(docs) and not any(p.startswith(".") for p in where.relative_to(docs).parts):
            problem = f"the index folder '{store}' is inside the documents folder '{folder.path}'"
        else:
            continue
        raise InvalidInputError(f"{problem}: they must be apart. Put the index in a folder of its own, "
                                f"neither inside '{folder.path}' nor containing it, with --store DIR (or AMQA_STORE)")


def _check_ours(store: Path) -> None:
    """Refuse to write into an existing folder that is not a store: amqa writes only into a new or empty
    folder (or one holding only stores), a folder marked as a store (:data:`MARKER`), or one holding an
    index of an older amqa (``CURRENT`` naming an index folder with its manifest), which :func:`_mark`
    then adopts."""
    try:
        names = {entry.name for entry in os.scandir(store)}
    except (FileNotFoundError, NotADirectoryError):
        return  # created next (or, not a folder, refused by that)
    names.discard(".lock")  # left by an older amqa whose first update failed
    if MARKER in names or all((store / name / MARKER).is_file() for name in names):
        return  # a store, or empty but for stores (the web UI's "with-library" inside a --store folder)
    name = _quiet_pointer(store)
    if name is not None and _is_ours(name, "index") and (store / name / "manifest.json").is_file():
        return
    raise InvalidInputError(f"'{store}' is not empty and holds no amqa index: amqa writes its index only into "
                            "a new or empty folder, or one it already uses. Pass another folder with --store DIR "
                            "(or AMQA_STORE)")


def _mark(store: Path) -> None:
    """Mark ``store`` as amqa's (it passed :func:`_check_ours`; the lock is held)."""
    marker = store / MARKER
    if not marker.is_file():
        marker.write_text(json.dumps({"format_version": FORMAT_VERSION, "written_by": f"amqa {__version__}",
                                      "note": "an amqa index store: amqa deletes here only the files it wrote"}),
                          encoding="utf-8")


@contextlib.contextmanager
def _locked(store: Path, wait: bool = True, on_wait: WaitCallback | None = None) -> Iterator[OSError | None]:
    """One writer at a time per store. The holder writes its pid into ``.lock``; another process
    waits for it (``on_wait(pid)`` first), or with ``wait=False`` raises :class:`IndexBusyError`.
    Yields None, or the error that kept a read-only store from being locked: the caller may still
    read it (an up-to-date read-only store answers without a warning), not write it."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock, the atomic switch still protects readers
        yield None
        return
    try:
        fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT, 0o644)  # not truncated: it names the holder
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        yield exc
        return
    with os.fdopen(fd, "r+", encoding="ascii", errors="replace") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read(20).strip()
            pid = int(holder) if holder.isdigit() else None
            if not wait:
                raise IndexBusyError(f"another amqa process{f' (pid {pid})' if pid else ''} is updating the index "
                                     f"in {store}", pid) from None
            if on_wait is not None:
                on_wait(pid)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            yield None
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _no_documents_message(docs, skipped: list[Skipped]) -> str:
    msg = f"no document to index in '{docs}': amqa reads {', '.join(SUPPORTED_SUFFIXES)} files."
    if skipped:
        shown = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5])
        msg += f" Skipped: {shown}" + (" ..." if len(skipped) > 5 else "")
    return msg


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
