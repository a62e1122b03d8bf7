"""The manifest of an index, typed: what an index holds and how it was built (:class:`Manifest`), and
what it recorded of each file (:class:`FileRecord`).

The manifest is stored as ``manifest.json`` in an index folder (:mod:`amqa.index.local.store`); :meth:`Manifest.from_dict`
reads that JSON and :meth:`Manifest.to_dict` gives it back, key for key and in the order amqa writes
it, so that a manifest read and written again is the same file. Both are frozen: an update makes a
new manifest (``dataclasses.replace``), it never changes one in place.

>>> record = FileRecord.from_dict({"sha256": "ab12", "title": "Notes", "language": "fr", "chunks": 2,
...                                "sentences": 5, "chars": 1400, "segment": "seg-1", "size": 1410,
...                                "mtime_ns": 7})
>>> record.title, record.page_count, record.stamp()
('Notes', None, {'sha256': 'ab12', 'size': 1410, 'mtime_ns': 7})
>>> manifest = Manifest(files={"notes.txt": record}, segments=("seg-1",), embedder_id="hash:384", dim=384)
>>> Manifest.from_dict(manifest.to_dict()) == manifest
True
>>> manifest.to_dict()["embedder"], list(manifest.to_dict())[:3]
({'id': 'hash:384', 'dim': 384}, ['files', 'format_version', 'reader_version'])
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping

from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import READER_VERSION, Skipped

__all__ = ["FORMAT_VERSION", "Counts", "FileRecord", "FileRecords", "FolderRecord", "Manifest", "ManifestError"]

#: 1: one folder of JSON lines and FAISS files, rewritten by every update; 2: segments.
FORMAT_VERSION = 2


class ManifestError(ValueError):
    """A manifest without the fields an index of this format reads, or with fields of the wrong type.
    Its message names the field (the store adds which manifest and how to rebuild it)."""


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


# The fields of a file record in the order amqa writes them (to_dict follows it); after "segment", the stamp.
_RECORD_DEFAULTS: dict[str, Any] = {"sha256": "", "title": "", "language": "", "chunks": 0, "sentences": 0,
                                    "chars": 0, "pages": (), "segment": "", "size": None, "mtime_ns": None}
_RECORD_KEYS = frozenset(_RECORD_DEFAULTS)


@dataclass(frozen=True)
class FileRecord:
    """What an index recorded of one of its files: its content (``sha256``), what reading it gave
    (title, language, counts of chunks, embedded sentences and characters, ``pages``: where each page
    or slide starts in its text, empty for formats without pages), the segment holding its rows, and
    its ``size`` and ``mtime_ns`` when it was last seen (None in a record written before they were
    kept): an unchanged size and time spare reading the file again.

    ``extra`` keeps fields this amqa does not know, written back as they were.

    >>> r = FileRecord("ab12", title="Deck", chunks=3, pages=(0, 120, 300))
    >>> r.page_count, r.to_dict()["pages"], "size" in r.to_dict()
    (3, [0, 120, 300], False)
    """

    sha256: str
    title: str = ""
    language: str = ""
    chunks: int = 0
    sentences: int = 0
    chars: int = 0
    pages: tuple[int, ...] = ()
    segment: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def page_count(self) -> int | None:
        """How many pages or slides the file has; None for a format without pages."""
        return len(self.pages) if self.pages else None

    def stamp(self) -> dict[str, Any]:
        """What a folder scan compares to recognise the file unchanged without reading it
        (:func:`amqa.ingest.documents.scan_folder`'s ``known``); no size or time when none was recorded."""
        out: dict[str, Any] = {"sha256": self.sha256}
        if self.size is not None:
            out["size"] = self.size
        if self.mtime_ns is not None:
            out["mtime_ns"] = self.mtime_ns
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileRecord":
        """A record as ``manifest.json`` holds it (fields missing from an older record get their
        defaults). Built without the dataclass's ``__init__``: an index of 100k files reads 100k of them."""
        if not isinstance(data, dict) and not isinstance(data, Mapping) or not isinstance(data.get("sha256"), str):
            raise ManifestError(f"{str(data)[:60]}, not a file record")  # (dict first: Mapping's check is slower)
        values = {**_RECORD_DEFAULTS, **data}
        values["pages"] = tuple(values["pages"]) if values["pages"] else ()
        if data.keys() <= _RECORD_KEYS:
            values["extra"] = _NO_EXTRA
        else:
            values["extra"] = _frozen({key: values.pop(key) for key in data if key not in _RECORD_KEYS})
        record = object.__new__(cls)
        record.__dict__.update(values)
        return record

    def to_dict(self) -> dict[str, Any]:
        """The record as ``manifest.json`` holds it: ``pages`` only for a file with pages, ``size``
        and ``mtime_ns`` only when known, then the ``extra`` fields."""
        out = {"sha256": self.sha256, "title": self.title, "language": self.language, "chunks": self.chunks,
               "sentences": self.sentences, "chars": self.chars}
        if self.pages:
            out["pages"] = list(self.pages)
        out["segment"] = self.segment
        if self.size is not None:
            out["size"] = self.size
        if self.mtime_ns is not None:
            out["mtime_ns"] = self.mtime_ns
        if self.extra:
            out.update(self.extra)
        return out


_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def with_fields(value: FileRecord | dict[str, Any], **fields: Any) -> FileRecord | dict[str, Any]:
    """A record, or the checked dict of one (:meth:`FileRecords.raw`), with some of its fields changed;
    a dict stays a dict, not built (its keys are the fields' names).

    >>> with_fields({"sha256": "1", "segment": "a"}, segment="b"), with_fields(FileRecord("1"), segment="b").segment
    ({'sha256': '1', 'segment': 'b'}, 'b')
    """
    return {**value, **fields} if type(value) is dict else replace(value, **fields)  # type: ignore[type-var]


def _record(raw: dict[str, Any]) -> FileRecord:
    """:meth:`FileRecord.from_dict` for a record already checked (a dict, ``sha256`` a str, ``pages``
    a list when present), without a call to it."""
    values = {**_RECORD_DEFAULTS, **raw}
    pages = values["pages"]
    values["pages"] = tuple(pages) if pages else ()
    if raw.keys() <= _RECORD_KEYS:
        values["extra"] = _NO_EXTRA
    else:
        values["extra"] = _frozen({key: values.pop(key) for key in raw if key not in _RECORD_KEYS})
    record = object.__new__(FileRecord)
    object.__setattr__(record, "__dict__", values)
    return record


class FileRecords(Mapping[str, FileRecord]):
    """A manifest's files, read-only, in their order: :class:`FileRecord` by source. A manifest read
    from JSON (:meth:`Manifest.from_dict`) keeps each record as a dict, checked, until it is asked
    for: loading an index of 100k files need not build 100k records. :meth:`segment_of`,
    :meth:`stamps` and :meth:`pages` read those dicts as they are.

    >>> files = FileRecords({"a.txt": {"sha256": "1", "segment": "s"}, "b.txt": FileRecord("2", pages=(0, 9))})
    >>> files.segment_of("a.txt"), files["a.txt"].title == "", files.pages(), list(files)
    ('s', True, {'b.txt': (0, 9)}, ['a.txt', 'b.txt'])
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, FileRecord | dict[str, Any]]) -> None:
        # Values: a FileRecord, or the dict it is built from on first access (then replaced by it).
        self._items: dict[str, FileRecord | dict[str, Any]] = dict(items)

    def __getitem__(self, source: str) -> FileRecord:
        value = self._items[source]
        if type(value) is dict:
            value = self._items[source] = _record(value)
        return value  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, source: object) -> bool:
        return source in self._items

    def __repr__(self) -> str:
        return f"FileRecords({dict(self.items())!r})"

    def segment_of(self, source: str) -> str | None:
        """The segment holding ``source``'s rows; None for a file not listed."""
        value = self._items.get(source)
        if value is None:
            return None
        return value.get("segment", "") if type(value) is dict else value.segment  # type: ignore[union-attr]

    def in_segment(self, segment: str, sources: Iterable[str]) -> Iterator[bool]:
        """For each of ``sources``, whether it is listed with its rows in ``segment``
        (``segment_of(source) == segment``, without a call per source)."""
        get = self._items.get
        for source in sources:
            value = get(source)
            if value is None:
                yield False
            elif type(value) is dict:
                yield value.get("segment", "") == segment
            else:
                yield value.segment == segment  # type: ignore[union-attr]

    def sha256_of(self, source: str) -> str | None:
        """The recorded sha256 of ``source`` (None: not indexed), without building its record: the
        planner's comparison asks it of every file (bench/manifest_load.py)."""
        value = self._items.get(source)
        if value is None:
            return None
        return value["sha256"] if type(value) is dict else value.sha256  # type: ignore[union-attr]

    def size_mtime_of(self, source: str) -> tuple[int | None, int | None] | None:
        """The recorded size and modification time of ``source`` (None: not indexed), as :meth:`sha256_of`."""
        value = self._items.get(source)
        if value is None:
            return None
        if type(value) is dict:
            return value.get("size"), value.get("mtime_ns")
        return value.size, value.mtime_ns  # type: ignore[union-attr]

    def stamps(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(source, :meth:`FileRecord.stamp`) for each file."""
        for source, value in self._items.items():
            if type(value) is dict:
                out: dict[str, Any] = {"sha256": value["sha256"]}
                size, mtime_ns = value.get("size"), value.get("mtime_ns")
                if size is not None:
                    out["size"] = size
                if mtime_ns is not None:
                    out["mtime_ns"] = mtime_ns
                yield source, out
            else:
                yield source, value.stamp()  # type: ignore[union-attr]

    def raw(self) -> dict[str, FileRecord | dict[str, Any]]:
        """A copy of the items as held: the records built so far, the others as their checked dicts
        (change one with :func:`with_fields`; ``FileRecords(raw)`` reads them again). An update that
        changes a few files of 10k builds no record of the others."""
        return dict(self._items)

    def to_dicts(self) -> dict[str, dict[str, Any]]:
        """Each record as ``manifest.json`` holds it; a record never built is its own dict, passed
        through (shared: not to be changed)."""
        return {source: value if type(value) is dict else value.to_dict()  # type: ignore[union-attr]
                for source, value in self._items.items()}

    def pages(self) -> dict[str, tuple[int, ...]]:
        """Where each page or slide starts, for each file with pages."""
        out: dict[str, tuple[int, ...]] = {}
        for source, value in self._items.items():
            pages = value.get("pages") if type(value) is dict else value.pages  # type: ignore[union-attr]
            if pages:
                out[source] = tuple(pages)
        return out


@dataclass(frozen=True)
class FolderRecord:
    """A documents folder an index reads: its resolved path and the prefix of its files' sources."""

    path: str
    prefix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "prefix": self.prefix}


@dataclass(frozen=True)
class Counts:
    """How many files, chunks, embedded sentences and segments an index holds (checked at load)."""

    files: int
    chunks: int
    sentences: int
    segments: int

    def to_dict(self) -> dict[str, int]:
        return {"files": self.files, "chunks": self.chunks, "sentences": self.sentences, "segments": self.segments}


# The header fields in the order amqa writes them (after "files").
_HEADER = ("format_version", "reader_version", "amqa_version", "embedder", "chunking", "docs", "folders", "created",
           "updated", "skipped_files", "segments", "scanned_ns", "counts", "previous", "published")


@dataclass(frozen=True)
class Manifest:
    """An index's manifest: its files (:class:`FileRecord`, by source, sorted) and how it was built.

    - ``format_version`` of the store (:data:`FORMAT_VERSION`), ``reader_version`` of the readers that
      read its files (:data:`amqa.ingest.documents.READER_VERSION`; read as 1 when a manifest does not
      record it), ``amqa_version``;
    - ``embedder_id`` and ``dim``, ``chunking`` (None when not recorded);
    - ``docs`` and ``folders``: the folders read (an index written before folders were recorded
      names its one ``docs`` folder: :meth:`read_folders`);
    - ``created``, ``updated``: when (local time, ISO 8601); ``skipped_files``: the files not indexed
      and why, with their stamps when they could not be read (not read again until they change);
    - ``segments``: the segments in use; ``scanned_ns``: when the folders were scanned (a file
      modified near that time is hashed again); ``counts`` (None when not recorded);
    - ``previous``, ``published``: the index this one replaced and when it was published (set when
      it is written; None before).

    ``extra`` keeps fields this amqa does not know, written back as they were.
    """

    files: Mapping[str, FileRecord] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    reader_version: int = READER_VERSION
    amqa_version: str = ""
    embedder_id: str | None = None
    dim: int = 0
    chunking: ChunkSettings | None = None
    docs: str = ""
    folders: tuple[FolderRecord, ...] = ()
    created: str | None = None
    updated: str = ""
    skipped_files: tuple[Skipped, ...] = ()
    segments: tuple[str, ...] = ()
    scanned_ns: int = 0
    counts: Counts | None = None
    previous: str | None = None
    published: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if type(self.files) is not FileRecords:
            object.__setattr__(self, "files", FileRecords(self.files))

    def read_folders(self) -> tuple[FolderRecord, ...]:
        """The folders the index reads: ``folders``, or for an index written before they were
        recorded, its one ``docs`` folder.

        >>> Manifest(docs="/docs").read_folders()
        (FolderRecord(path='/docs', prefix=''),)
        """
        return self.folders or (FolderRecord(self.docs, ""),)

    def unreadable(self) -> dict[str, Skipped]:
        """The skipped files that could not be read (they have a stamp), by source: not read again
        until their content changes."""
        return {s.source: s for s in self.skipped_files if s.sha256}

    def stamps(self) -> dict[str, dict[str, Any]]:
        """What the manifest recorded of each file it indexed or could not read (sha256, and size and
        mtime_ns when known): a scan's ``known`` (:func:`amqa.ingest.documents.scan_folder`)."""
        known: dict[str, dict[str, Any]] = {s.source: s.to_dict() for s in self.skipped_files if s.sha256}
        known.update(self.records.stamps())
        return known

    @property
    def records(self) -> FileRecords:
        """``files`` as the :class:`FileRecords` it is (with its faster readers)."""
        return self.files  # type: ignore[return-value]  # (__post_init__ made it one)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, adopt: bool = False) -> "Manifest":
        """A manifest as ``manifest.json`` holds it, its shape checked: the fields an index of this
        format needs (segments, the embedder's dimension, a record in one of the segments for each
        file) and the types of the others; :class:`ManifestError` names the first that is wrong.
        Fields an older amqa did not write get their defaults.

        The files' records are checked here and built when asked for (:class:`FileRecords`), from
        copies of their dicts; with ``adopt`` (``data`` just parsed, held by no one else), from the
        dicts themselves, which must then not change."""
        if not isinstance(data, Mapping) or not isinstance(data.get("files"), Mapping):
            raise ManifestError("no files listed")
        segments = data.get("segments")
        if not isinstance(segments, list) or not all(isinstance(x, str) and x == PurePath(x).name for x in segments):
            raise ManifestError(f"'segments' is {str(segments)[:60]}, not a list of segment names")
        embedder = data.get("embedder")
        if not isinstance(embedder, Mapping) or not isinstance(embedder.get("dim"), int):
            raise ManifestError(f"'embedder' is {str(embedder)[:60]}, not an id and a dimension")
        named = set(segments)
        files: dict[str, FileRecord | dict[str, Any]] = {}
        # The records as amqa writes them are only checked here (an index of 100k files reads 100k
        # of them, before any question), and built when asked for (FileRecords); any other is built now.
        for source, raw in data["files"].items():
            if type(raw) is dict and type(raw.get("sha256")) is str and raw.get("segment", "") in named and \
                    type(raw.get("pages", ())) in (list, tuple):
                files[source] = raw if adopt else raw.copy()
                continue
            try:
                record = FileRecord.from_dict(raw)
            except ManifestError:
                record = None
            if record is None or record.segment not in named:
                raise ManifestError(f"the record of {source!r} is {str(raw)[:60]}, not a file in one of its segments")
            files[source] = record
        skipped = data.get("skipped_files", [])
        if not isinstance(skipped, list):
            raise ManifestError("'skipped_files' is not a list")
        try:
            chunking = data.get("chunking")
            counts = data.get("counts")
            return cls(
                files=FileRecords(files),
                format_version=int(data["format_version"]),
                reader_version=int(data.get("reader_version", 1)),
                amqa_version=str(data.get("amqa_version", "")),
                embedder_id=embedder.get("id"),
                dim=embedder["dim"],
                chunking=ChunkSettings(**chunking) if chunking is not None else None,
                docs=str(data.get("docs", "")),
                folders=tuple(FolderRecord(str(f["path"]), str(f.get("prefix", ""))) for f in data.get("folders") or ()),
                created=data.get("created"),
                updated=str(data.get("updated", "")),
                skipped_files=tuple(Skipped(**s) for s in skipped),
                segments=tuple(segments),
                scanned_ns=int(data.get("scanned_ns", 0)),
                counts=Counts(**counts) if isinstance(counts, Mapping) else None,
                previous=data.get("previous"),
                published=data.get("published"),
                extra=_frozen({key: value for key, value in data.items() if key != "files" and key not in _HEADER}),
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # InvalidInputError is a ValueError
            raise ManifestError(f"a field of the wrong shape ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """The manifest as ``manifest.json`` holds it, in the order amqa writes its fields. Only
        ``chunking``, ``counts`` and the publication fields are left out when unset."""
        out: dict[str, Any] = {
            "files": self.records.to_dicts(),
            "format_version": self.format_version,
            "reader_version": self.reader_version,
            "amqa_version": self.amqa_version,
            "embedder": {"id": self.embedder_id, "dim": self.dim},
        }
        if self.chunking is not None:
            out["chunking"] = self.chunking.to_dict()
        out.update({
            "docs": self.docs,
            "folders": [f.to_dict() for f in self.folders],
            "created": self.created,
            "updated": self.updated,
            "skipped_files": [s.to_dict() for s in self.skipped_files],
            "segments": list(self.segments),
            "scanned_ns": self.scanned_ns,
        })
        if self.counts is not None:
            out["counts"] = self.counts.to_dict()
        if self.published is not None:
            out["previous"] = self.previous
            out["published"] = self.published
        out.update(self.extra)
        return out

    def links(self) -> dict[str, Any]:
        """What the garbage collection follows (``links.json`` beside the manifest): ``previous``,
        ``published`` and ``segments``."""
        return {"previous": self.previous, "published": self.published, "segments": list(self.segments)}
