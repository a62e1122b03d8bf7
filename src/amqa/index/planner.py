"""The steps of indexing that do not depend on where the index is kept: scan the folders, compare the
scan with the index's :class:`~amqa.index.manifest.Manifest` (once: :func:`compare`, and :func:`has_changed`
built on it), read each file to index, cut it into chunks and the sentences embedded on their own
(:func:`plan_document`), and embed them (:func:`embed_documents`). What comes out, a
:class:`PlannedFile` and its :class:`~amqa.index.manifest.FileRecord` per file, is what an index writer
stores; the local one (:mod:`amqa.index.local.store`) writes them as segments and publishes a new manifest.

>>> from pathlib import Path
>>> from amqa.ingest.documents import FolderScan, SourceFile
>>> from amqa.index.manifest import FileRecord, Manifest
>>> indexed = Manifest(files={"a.txt": FileRecord("1"), "b.txt": FileRecord("2")})
>>> scan = FolderScan((SourceFile("a.txt", Path("a.txt"), "1"), SourceFile("c.txt", Path("c.txt"), "3")), ())
>>> plan = compare(scan, indexed)
>>> plan.added, plan.removed, plan.unchanged, plan.reasons["c.txt"]
(('c.txt',), ('b.txt',), ('a.txt',), 'new file')
>>> has_changed(scan, indexed), has_changed(FolderScan(scan.files[:1] + (SourceFile("b.txt", Path("b.txt"), "2"),), ()), indexed)
(True, False)

And a document into what is embedded:

>>> from amqa.ingest.chunking import ChunkSettings
>>> from amqa.types import Document
>>> doc = Document("a.txt", "A", "Une première phrase assez longue ici. Courte.", "fr", "1")
>>> planned = plan_document(doc, ChunkSettings())
>>> [c.text for c in planned.chunks], planned.texts()
(['Une première phrase assez longue ici. Courte.'], ['Une première phrase assez longue ici. Courte.', \
'Une première phrase assez longue ici.'])
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from amqa.index.manifest import FileRecord, FileRecords, Manifest
from amqa.ingest.chunking import ChunkSettings, chunk_document
from amqa.ingest.documents import READER_VERSION, DocumentFolder, FolderScan, Skipped, SourceFile, read_document, scan_folders
from amqa.types import Chunk, Document

if TYPE_CHECKING:
    from amqa.embedders import Embedder

__all__ = ["MIN_SENTENCE_CHARS", "READER_VERSION", "EmbeddedBatch", "PlannedDocument", "PlannedFile", "UpdatePlan",
           "UpdateReport", "as_folders", "compare", "embed_documents", "fingerprint", "has_changed", "plan_document", "read_file", "scan"]

# Sentences shorter than this (headings, bylines) are not embedded alone: they match too easily.
MIN_SENTENCE_CHARS = 25

#: Called while files are indexed: (step, done, total), step "reading" (files) or "embedding" (texts).
ProgressCallback = Callable[[str, int, int], None]


Docs = str | os.PathLike | Sequence[DocumentFolder]


def as_folders(docs: Docs) -> tuple[DocumentFolder, ...]:
    """The folders an index reads: one documents folder (no prefix), or the given ones."""
    if isinstance(docs, (str, os.PathLike)):
        return (DocumentFolder(Path(docs)),)
    return tuple(docs)


@dataclass(kw_only=True)
class UpdateReport:
    """What an update of an index did, whichever backend keeps it: the files by what happened to them,
    the texts embedded and the time taken. :attr:`target` names the index (a store folder, a database)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded_texts: int = 0
    embed_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def target(self) -> str:
        raise NotImplementedError  # each backend's report names its index

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def record_skip(self, skipped: Skipped) -> bool:
        """A file planned for indexing that cannot be used now: counted as skipped (and, when it was
        indexed before, as removed: whether it was, the backend's writer removes its old rows)."""
        self.skipped.append(skipped)
        if skipped.source in self.added:
            self.added.remove(skipped.source)
            return False
        self.changed.remove(skipped.source)
        self.removed.append(skipped.source)
        return True

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{len(self.removed)} removed", f"{len(self.unchanged)} unchanged"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        state = "up to date" if self.up_to_date else f"{self.embedded_texts} texts embedded"
        return f"Index {self.target}: {', '.join(parts)} ({state}, {self.total_seconds:.2f} s)"


# --- scan and compare -------------------------------------------------------------------------

def scan(folders: Sequence[DocumentFolder], manifest: Manifest | None) -> FolderScan:
    """Scan ``folders`` trusting what ``manifest`` recorded: a file whose size and time are as
    recorded (and not too close to the last scan) keeps its recorded sha256 without being read."""
    if manifest is None:
        return scan_folders(folders)
    return scan_folders(folders, manifest.stamps(), trusted_before_ns=manifest.scanned_ns)


def fingerprint(scan: FolderScan) -> dict[str, str]:
    """The scanned files' contents: ``{source: sha256}`` (two scans with the same fingerprint saw the
    same files)."""
    return {f.source: f.sha256 for f in scan.files}


@dataclass(frozen=True)
class UpdatePlan:
    """What an update has to do, from a scan compared with the index's manifest: the sources
    ``added``, ``changed``, ``removed`` (sorted) and ``unchanged``; ``to_read``, the files added or
    changed in scan order (the order they are indexed in); ``skipped``, the scan's skipped entries and
    then the files still unreadable (unchanged since they could not be read: not read again);
    ``reasons``, why each file added, changed or removed is; ``reader_version``, the readers' version
    the files are read with (recorded in the new manifest)."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    to_read: tuple[SourceFile, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    reader_version: int = READER_VERSION

    @property
    def up_to_date(self) -> bool:
        """Nothing to add, change or remove."""
        return not (self.added or self.changed or self.removed)


_ADDED, _CHANGED, _UNCHANGED, _STILL_UNREADABLE = "added", "changed", "unchanged", "still unreadable"


def _status(file: SourceFile, before: str | None, failed: Skipped | None, reread: bool) -> str:
    """How a scanned file stands against the manifest (``before``: the sha256 it recorded, None: not
    indexed): the one rule behind :func:`compare` and :func:`has_changed`. A file that could not be read
    before and has not changed since stays skipped."""
    if before is None:
        if failed is not None and failed.sha256 == file.sha256 and not reread:
            return _STILL_UNREADABLE
        return _ADDED
    if reread or before != file.sha256:
        return _CHANGED
    return _UNCHANGED


def compare(scan: FolderScan, manifest: Manifest | None, *, reader_version: int | None = None) -> UpdatePlan:
    """Sort the scanned files against ``manifest`` (None: no index yet). Files read by another reader
    version than ``reader_version`` (default :data:`~amqa.ingest.documents.READER_VERSION`) count as changed:
    their text may differ."""
    version = READER_VERSION if reader_version is None else reader_version
    files = manifest.records if manifest is not None else FileRecords({})
    unreadable = manifest.unreadable() if manifest is not None else {}
    reread = manifest is not None and manifest.reader_version != version
    removed = tuple(sorted(set(files) - {f.source for f in scan.files}))
    reasons = {source: "no longer in the folders" for source in removed}
    lists: dict[str, list[str]] = {_ADDED: [], _CHANGED: [], _UNCHANGED: []}
    to_read: list[SourceFile] = []
    skipped = list(scan.skipped)
    for f in scan.files:
        failed = unreadable.get(f.source)
        status = _status(f, files.sha256_of(f.source), failed, reread)
        if status == _STILL_UNREADABLE:
            assert failed is not None
            skipped.append(Skipped(f.source, failed.reason, f.size, f.mtime_ns, f.sha256))
            continue
        lists[status].append(f.source)
        if status == _ADDED:
            to_read.append(f)
            reasons[f.source] = "changed since it could not be read" if failed is not None else "new file"
        elif status == _CHANGED:
            to_read.append(f)
            reasons[f.source] = ("content changed" if files.sha256_of(f.source) != f.sha256 else
                                 f"read by reader version {manifest.reader_version if manifest else '?'}, "
                                 f"now {version}")
    return UpdatePlan(tuple(lists[_ADDED]), tuple(lists[_CHANGED]), removed, tuple(lists[_UNCHANGED]),
                      tuple(to_read), tuple(skipped), reasons, version)


def has_changed(scan: FolderScan, manifest: Manifest) -> bool:
    """Whether a file was added, changed or removed since ``manifest`` was written: :func:`compare`'s
    rule without its lists, stopping at the first difference (it runs before questions). The reader
    version is not looked at: the files are what this asks about."""
    files = manifest.records
    if not files.keys() <= {f.source for f in scan.files}:
        return True
    unreadable = manifest.unreadable()
    return any(_status(f, files.sha256_of(f.source), unreadable.get(f.source), False) in (_ADDED, _CHANGED)
               for f in scan.files)


# --- read, chunk, embed ------------------------------------------------------------------------

def read_file(file: SourceFile) -> Document | Skipped:
    """Read a scanned file; one that cannot be used is skipped with its stamp (size, time, sha256), so
    that it is not read again until it changes."""
    doc = read_document(file)
    if isinstance(doc, Document):
        return doc
    return Skipped(doc.source, doc.reason, file.size, file.mtime_ns, file.sha256)


@dataclass(frozen=True)
class PlannedDocument:
    """A document read and cut into chunks, with the sentence spans embedded on their own (each once,
    even when chunks overlap; short ones left out): what indexing embeds, :meth:`texts`."""

    document: Document
    chunks: tuple[Chunk, ...]
    sentences: tuple[tuple[int, int], ...]

    @property
    def source(self) -> str:
        return self.document.source

    def texts(self) -> list[str]:
        """The texts to embed: the chunks', then the sentences'."""
        text = self.document.text
        return [c.text for c in self.chunks] + [text[a:b] for a, b in self.sentences]

    def record(self) -> FileRecord:
        """The file's record for the manifest (its segment and stamp are the writer's to add)."""
        doc = self.document
        return FileRecord(doc.sha256, title=doc.title, language=doc.language, chunks=len(self.chunks),
                          sentences=len(self.sentences), chars=len(doc.text), pages=tuple(doc.pages))


def plan_document(doc: Document, settings: ChunkSettings) -> PlannedDocument:
    """A document's chunks and the sentence spans embedded on their own (at least
    :data:`MIN_SENTENCE_CHARS` long)."""
    chunks = chunk_document(doc, settings)
    spans = dict.fromkeys((s.start, s.end) for c in chunks for s in c.sentences
                          if s.end - s.start >= MIN_SENTENCE_CHARS)
    return PlannedDocument(doc, tuple(chunks), tuple(spans))


@dataclass(frozen=True)
class PlannedFile:
    """A file ready to be written into an index: its chunks, the sentence spans embedded on their own,
    and their vectors (rows aligned with ``chunks`` and ``sentences``)."""

    source: str
    title: str
    language: str
    chunks: Sequence[Chunk]
    sentences: Sequence[tuple[int, int]]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    tokens: Sequence[Sequence[str]] | None = None  # BM25 tokens per chunk, when already known


#: Given a planned document, the vectors an index already holds for it (chunk vectors, sentence
#: vectors), when its chunks and sentences are the same texts at the same places; else None.
Reuse = Callable[[PlannedDocument], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass(frozen=True)
class EmbeddedBatch:
    """Planned documents embedded: per file, what a writer stores (``files``) and the manifest's
    record of it (``records``, row-aligned; no segment or stamp yet); how many texts were embedded
    and in how many seconds."""

    files: tuple[PlannedFile, ...]
    records: tuple[FileRecord, ...]
    embedded_texts: int
    embed_seconds: float


def embed_documents(planned: Iterable[PlannedDocument], embedder: "Embedder", *, reuse: Reuse | None = None,
                    progress: bool = False, on_progress: ProgressCallback | None = None) -> EmbeddedBatch:
    """Embed what the planned documents need, in one call to the embedder: a document ``reuse`` finds
    the vectors of (read again into the same chunks and sentences) keeps them."""
    plans: list[tuple[PlannedDocument, int | tuple[np.ndarray, np.ndarray]]] = []
    texts: list[str] = []
    for doc in planned:
        reused = reuse(doc) if reuse is not None else None
        if reused is None:
            plans.append((doc, len(texts)))
            texts += doc.texts()
        else:
            plans.append((doc, reused))
    t0 = time.perf_counter()
    vectors = embedder.embed(texts, "passage", progress=progress, desc="Embedding",
                             callback=(lambda done, total: on_progress("embedding", done, total)) if on_progress else None)
    seconds = time.perf_counter() - t0
    out: list[PlannedFile] = []
    for doc, where in plans:
        n_chunks, n_sents = len(doc.chunks), len(doc.sentences)
        if isinstance(where, int):
            cv = vectors[where:where + n_chunks]
            sv = vectors[where + n_chunks:where + n_chunks + n_sents]
        else:
            cv, sv = where
        d = doc.document
        out.append(PlannedFile(d.source, d.title, d.language, doc.chunks, doc.sentences, cv, sv))
    return EmbeddedBatch(tuple(out), tuple(doc.record() for doc, _ in plans), len(texts), seconds)



class IndexWriter(Protocol):
    """One update of an index, written by a backend after the planner decided what changed
    (:func:`compare`): the files removed, then batches of embedded files, each searchable once written
    (:func:`write_files` drives them), files that could not be used, then the index as it stands,
    published atomically. The local store's
    ``_SegmentWriter`` (amqa.index.local.store) is one."""

    def reuse(self, planned: PlannedDocument) -> tuple[np.ndarray, np.ndarray] | None:
        """The chunk and sentence vectors the index already holds for exactly this plan (a file read
        again into the same chunks and sentences), or None: they are embedded."""
        ...

    def remove(self, sources: Sequence[str]) -> None:
        """Files gone from the folders: out of the index once it is published."""
        ...

    def write(self, batch: EmbeddedBatch) -> None:
        """Store a batch of files (replacing their earlier versions); searchable when it returns."""
        ...

    def skip(self, skipped: Skipped) -> None:
        """A file to index that cannot be used now: not indexed (and no longer, if it was)."""
        ...

    def finish(self) -> object:
        """Publish the index as it now is (removed files gone) and return it."""
        ...


def write_files(todo: Sequence[SourceFile], writer: IndexWriter, embedder: "Embedder", settings: ChunkSettings, *,
                first_batch: int, batch_chunks: int, progress: bool = False,
                on_progress: ProgressCallback | None = None) -> None:
    """Read, chunk and embed the files to index and hand them to ``writer`` in batches: the first of
    ``first_batch`` chunks (searchable soon), then of ``batch_chunks``, and one for the rest."""
    from tqdm import tqdm

    batch: list[PlannedDocument] = []
    chunks, limit = 0, first_batch
    bar = tqdm(total=len(todo), desc="Reading", unit="file", disable=not progress or not todo, leave=False)

    def flush() -> None:
        writer.write(embed_documents(batch, embedder, reuse=writer.reuse, progress=progress, on_progress=on_progress))

    for i, f in enumerate(todo):
        if on_progress:
            on_progress("reading", i, len(todo))
        doc = read_file(f)
        bar.update(1)
        if isinstance(doc, Skipped):
            writer.skip(doc)
            continue
        planned = plan_document(doc, settings)
        batch.append(planned)
        chunks += len(planned.chunks)
        if chunks >= limit:
            flush()
            batch, chunks, limit = [], 0, batch_chunks
    bar.close()
    if batch:
        flush()
