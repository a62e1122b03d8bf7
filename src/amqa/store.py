"""The index on disk: a folder of readable files, updated incrementally and switched atomically.

Layout of a store folder::

    CURRENT                 name of the active index folder (replaced atomically)
    index-<time>/manifest.json    format version, embedder id and dim, chunk settings, the folders
                                  read, files: sha256, size and mtime_ns (an unchanged size and time
                                  spare reading the file again), title, language, counts, and "pages"
                                  (where each page or slide starts in the file's text) for formats
                                  with pages
    index-<time>/chunks.jsonl     one chunk a line: id, source, ordinal, start, end, text, sentences
    index-<time>/sentences.jsonl  one embedded sentence a line: source, start, end
    index-<time>/chunks.faiss     chunk vectors (exact inner product, L2-normalised)
    index-<time>/sentences.faiss  sentence vectors, same order as sentences.jsonl

>>> report = update_index("seeds", "vector_store")        # doctest: +SKIP
>>> report.added, report.unchanged                          # doctest: +SKIP
(5, 0)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ._version import __version__
from .chunking import ChunkSettings, chunk_document
from .documents import (RACY_NS, READER_VERSION, SUPPORTED_SUFFIXES, Document, DocumentFolder, FolderScan, Skipped,
                        SourceFile, read_document, scan_folders)
from .embedders import Embedder, get_embedder
from .errors import IndexMismatchError, InvalidInputError, NoDocumentsError
from .types import Chunk, Sentence

FORMAT_VERSION = 1
# Sentences shorter than this (headings, bylines) are not embedded alone: they match too easily.
MIN_SENTENCE_CHARS = 25


@dataclass
class IndexData:
    """Everything an index holds, in memory. Row ``i`` of ``chunk_vectors`` belongs to ``chunks[i]``."""

    manifest: dict
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_keys: list[tuple[str, int, int]]  # (source, start, end), row-aligned with sentence_vectors
    sentence_vectors: np.ndarray
    path: Path | None = None

    @property
    def files(self) -> dict[str, dict]:
        return self.manifest["files"]


@dataclass
class IndexReport:
    """What :func:`update_index` did."""

    store: Path
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded_texts: int = 0
    embed_seconds: float = 0.0
    total_seconds: float = 0.0
    index: IndexData | None = field(default=None, repr=False)  # the index as it now is, loaded

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{len(self.removed)} removed", f"{len(self.unchanged)} unchanged"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        state = "up to date" if self.up_to_date else f"{self.embedded_texts} texts embedded"
        return f"Index {self.store}: {', '.join(parts)} ({state}, {self.total_seconds:.2f} s)"


#: Called while an index is updated: (step, done, total), step "reading" (files) or "embedding" (texts).
ProgressCallback = Callable[[str, int, int], None]
Docs = str | os.PathLike | Sequence[DocumentFolder]


def as_folders(docs: Docs) -> tuple[DocumentFolder, ...]:
    """The folders an index reads: one documents folder (no prefix), or the given ones."""
    if isinstance(docs, (str, os.PathLike)):
        return (DocumentFolder(Path(docs)),)
    return tuple(docs)


def folders_record(folders: Sequence[DocumentFolder]) -> list[dict]:
    """The manifest's record of the folders an index reads (resolved paths and prefixes)."""
    return [{"path": str(Path(f.path).resolve()), "prefix": f.prefix} for f in folders]


def recorded_folders(manifest: dict) -> list[dict]:
    """The folders a manifest says its index reads (an index written before folders were recorded
    read its one ``docs`` folder)."""
    return manifest.get("folders") or [{"path": manifest.get("docs", ""), "prefix": ""}]


def known_stamps(manifest: dict) -> dict[str, dict]:
    """What a manifest recorded of each file it indexed or could not read: size, mtime_ns, sha256."""
    known = {s["source"]: s for s in manifest.get("skipped_files", []) if s.get("sha256")}
    known.update(manifest["files"])
    return known


# --- reading --------------------------------------------------------------------------------

def current_index_dir(store: str | os.PathLike) -> Path | None:
    """The active index folder of ``store``, or ``None`` when there is no index yet."""
    pointer = Path(store) / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    path = Path(store) / name
    return path if (path / "manifest.json").is_file() else None


def read_manifest(store: str | os.PathLike) -> dict | None:
    path = current_index_dir(store)
    if path is None:
        return None
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def check_manifest(manifest: dict, store: str | os.PathLike, embedder: Embedder,
                   settings: ChunkSettings | None = None) -> None:
    """Refuse an index made by another format version, embedder or chunking, saying how to rebuild."""
    rebuild = f"Rebuild it with: amqa index --store {store} --rebuild"
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {store} has format version {version}, this amqa reads version "
            f"{FORMAT_VERSION}. {rebuild}"
        )
    built_with = manifest.get("embedder", {}).get("id")
    if built_with != embedder.id:
        raise IndexMismatchError(
            f"the index in {store} was built with embedder '{built_with}', but '{embedder.id}' is "
            f"selected. Select the same embedder (--embedder), or rebuild with: "
            f"amqa index --store {store} --rebuild --embedder ..."
        )
    if settings is not None and manifest.get("chunking") != settings.to_dict():
        raise IndexMismatchError(
            f"the index in {store} was built with chunk settings {manifest.get('chunking')}, "
            f"not {settings.to_dict()}. {rebuild}"
        )


def load_index(store: str | os.PathLike, embedder: Embedder,
               settings: ChunkSettings | None = None) -> IndexData | None:
    """Load the active index of ``store`` (``None`` if there is none), checked against ``embedder``."""
    path = current_index_dir(store)
    if path is None:
        return None
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    check_manifest(manifest, store, embedder, settings)
    chunks = []
    with open(path / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            row["sentences"] = tuple(Sentence(a, b) for a, b in row["sentences"])
            chunks.append(Chunk(**row))
    with open(path / "sentences.jsonl", encoding="utf-8") as f:
        keys = [tuple(json.loads(line)) for line in f]
    dim = manifest["embedder"]["dim"]
    return IndexData(manifest, chunks, _read_vectors(path / "chunks.faiss", dim), keys,
                     _read_vectors(path / "sentences.faiss", dim), path)


def _read_vectors(path: Path, dim: int) -> np.ndarray:
    import faiss

    index = faiss.read_index(str(path))
    if index.ntotal == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


# --- writing --------------------------------------------------------------------------------

def update_index(docs: Docs, store: str | os.PathLike, embedder: Embedder | str | None = None,
                 settings: ChunkSettings | None = None, rebuild: bool = False, progress: bool = False,
                 log: Callable[[str], None] | None = None, *, on_progress: ProgressCallback | None = None,
                 current: IndexData | None = None) -> IndexReport:
    """Bring the index in ``store`` up to date with the folder ``docs`` (or several
    folders, :class:`~amqa.documents.DocumentFolder`, each file cited with its folder's prefix).

    Only new or changed files are read and embedded (a file whose size and modification time are
    unchanged is not even read; otherwise its sha256 decides); removed files are dropped; an
    unchanged folder writes nothing but, when they moved, the files' recorded times. The new index is
    written beside the old one and made active by one atomic rename, so an interrupted update leaves
    the previous index usable. ``current``, the store's active index already in memory, spares
    loading it again; ``on_progress`` hears of each file read and each batch embedded.
    """
    started = time.perf_counter()
    embedder = get_embedder(embedder)
    store = Path(store)
    folders = as_folders(docs)
    for folder in folders:
        if not Path(folder.path).is_dir():
            raise InvalidInputError(f"documents folder not found: '{folder.path}'. "
                                    "Pass an existing folder with --docs DIR.")
    report = IndexReport(store=store)
    store.mkdir(parents=True, exist_ok=True)
    with _locked(store):
        old = None
        if not rebuild:
            active = current_index_dir(store)
            if current is not None and current.path is not None and active is not None and current.path == active:
                check_manifest(current.manifest, store, embedder, settings)
                old = current
            else:
                old = load_index(store, embedder, settings)
        scanned_ns = time.time_ns()
        scan = scan_folders(folders, known_stamps(old.manifest) if old else None,
                            trusted_before_ns=old.manifest.get("scanned_ns", 0) if old else 0)
        report.skipped = list(scan.skipped)
        if settings is None:
            settings = ChunkSettings(**old.manifest["chunking"]) if old else ChunkSettings()
        # Files read by another reader version are read again: their text may differ.
        reread = old is not None and old.manifest.get("reader_version", 1) != READER_VERSION
        todo = _compare(scan, old.manifest if old else {}, report, reread)
        if old is not None and report.up_to_date:
            _keep_skipped(old, scan, report)
            _refresh_stamps(old, scan, scanned_ns)
            report.index = old
            report.total_seconds = time.perf_counter() - started
            return report
        new_docs = _read_changed(todo, report, progress, on_progress)
        if not new_docs and not report.unchanged:
            raise NoDocumentsError(_no_documents_message(" and ".join(str(f.path) for f in folders), report.skipped))
        data = _assemble(old, report.unchanged, new_docs, settings, embedder, report, progress, on_progress)
        for f in scan.files:
            if f.source in data.files:
                data.files[f.source].update(f.stamp())
        data.manifest.update(_manifest_fields(folders, settings, embedder, data, old, report.skipped))
        data.manifest["scanned_ns"] = scanned_ns
        _write(store, data)
        report.index = data
    report.total_seconds = time.perf_counter() - started
    if log:
        log(report.summary())
    return report


def _compare(scan: FolderScan, old_manifest: dict, report: IndexReport,
             reread: bool = False) -> list[SourceFile]:
    """Sort the scanned files into the report's added, changed, unchanged and removed lists; return
    the files to read (added or changed; with ``reread``, every file counts as changed). A file that
    could not be read before and has not changed since stays skipped, unread."""
    old_files: dict[str, dict] = old_manifest.get("files", {})
    unreadable = {s["source"]: s for s in old_manifest.get("skipped_files", []) if s.get("sha256")}
    report.removed = sorted(set(old_files) - {f.source for f in scan.files})
    todo = []
    for f in scan.files:
        before = old_files.get(f.source)
        failed = unreadable.get(f.source)
        if before is None and failed is not None and failed["sha256"] == f.sha256 and not reread:
            report.skipped.append(Skipped(f.source, failed["reason"], f.size, f.mtime_ns, f.sha256))
        elif before is None:
            report.added.append(f.source)
            todo.append(f)
        elif reread or before["sha256"] != f.sha256:
            report.changed.append(f.source)
            todo.append(f)
        else:
            report.unchanged.append(f.source)
    return todo


def _keep_skipped(old: IndexData, scan: FolderScan, report: IndexReport) -> None:
    """An up-to-date index still reports the files it skipped when it was written (if still there)."""
    seen = {x.source for x in report.skipped}
    present = {f.source for f in scan.files}
    report.skipped += [Skipped(**s) for s in old.manifest.get("skipped_files", [])
                       if s["source"] not in seen and s["source"] in present]


def _refresh_stamps(old: IndexData, scan: FolderScan, scanned_ns: int) -> None:
    """Record the files' sizes and times when they moved (a file touched, an index written before they
    were recorded) or were too recent to trust (:data:`~amqa.documents.RACY_NS`), so that the next
    check need not read them: only the manifest is replaced, atomically, in the active index."""
    files = old.manifest["files"]
    trusted = old.manifest.get("scanned_ns", 0)
    stale = [f for f in scan.files if f.source in files and (
        (files[f.source].get("size"), files[f.source].get("mtime_ns")) != (f.size, f.mtime_ns)
        or f.mtime_ns + RACY_NS >= trusted)]
    if not stale or old.path is None:
        return
    for f in stale:
        files[f.source].update(f.stamp())
    old.manifest["scanned_ns"] = scanned_ns
    tmp = old.path / "manifest.json.tmp"
    try:
        tmp.write_text(json.dumps(old.manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, old.path / "manifest.json")
    except OSError:  # a read-only store: the files are hashed again next time, nothing worse
        tmp.unlink(missing_ok=True)


def _read_changed(todo: list[SourceFile], report: IndexReport, progress: bool,
                  on_progress: ProgressCallback | None = None) -> list[Document]:
    """Read the added and changed files; a file that became unusable is skipped (and, if it was
    indexed before, removed)."""
    docs: list[Document] = []
    bar = _bar(len(todo), "Reading", progress)
    for i, f in enumerate(todo):
        if on_progress:
            on_progress("reading", i, len(todo))
        doc = read_document(f)
        if isinstance(doc, Skipped):
            doc = Skipped(doc.source, doc.reason, f.size, f.mtime_ns, f.sha256)
            report.skipped.append(doc)
            if doc.source in report.added:
                report.added.remove(doc.source)
            else:  # it was indexed before and is now unusable: its old chunks go
                report.changed.remove(doc.source)
                report.removed.append(doc.source)
        else:
            docs.append(doc)
        bar.update(1)
    bar.close()
    return docs


def _manifest_fields(folders: Sequence[DocumentFolder], settings: ChunkSettings, embedder: Embedder,
                     data: IndexData, old: IndexData | None, skipped: list[Skipped]) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "reader_version": READER_VERSION,
        "amqa_version": __version__,
        "embedder": {"id": embedder.id, "dim": int(data.chunk_vectors.shape[1])},
        "chunking": settings.to_dict(),
        "docs": str(Path(folders[0].path).resolve()),
        "folders": folders_record(folders),
        "created": old.manifest.get("created") if old else _now(),
        "updated": _now(),
        "skipped_files": [s.to_dict() for s in skipped],
    }


def plan_document(doc: Document, settings: ChunkSettings) -> tuple[list[Chunk], list[tuple[int, int]]]:
    """A document's chunks and the sentence spans embedded on their own (each once, even when
    chunks overlap; short ones left out). Chunk texts and these sentences are what indexing embeds."""
    chunks = chunk_document(doc, settings)
    spans = dict.fromkeys((s.start, s.end) for c in chunks for s in c.sentences
                          if s.end - s.start >= MIN_SENTENCE_CHARS)
    return chunks, list(spans)


def _assemble(old: IndexData | None, keep: list[str], new_docs: list[Document], settings: ChunkSettings,
              embedder: Embedder, report: IndexReport, progress: bool,
              on_progress: ProgressCallback | None = None) -> IndexData:
    keep_set = set(keep)
    files: dict[str, dict] = {}
    chunks: list[Chunk] = []
    chunk_vecs: list[np.ndarray] = []
    sent_keys: list[tuple[str, int, int]] = []
    sent_vecs: list[np.ndarray] = []
    if old is not None and keep_set:
        rows = [i for i, c in enumerate(old.chunks) if c.source in keep_set]
        chunks += [old.chunks[i] for i in rows]
        chunk_vecs.append(old.chunk_vectors[rows])
        srows = [i for i, k in enumerate(old.sentence_keys) if k[0] in keep_set]
        sent_keys += [old.sentence_keys[i] for i in srows]
        sent_vecs.append(old.sentence_vectors[srows])
        files.update({s: dict(old.files[s]) for s in keep})

    new_chunks: list[Chunk] = []
    new_sent_keys: list[tuple[str, int, int]] = []
    new_sent_texts: list[str] = []
    old_rows = _rows_by_source(old) if old is not None else {}
    for doc in new_docs:
        doc_chunks, doc_sentences = plan_document(doc, settings)
        keys = [(doc.source, start, end) for start, end in doc_sentences]
        reused = _same_plan(old, old_rows, doc_chunks, keys) if old is not None else None
        if old is not None and reused is not None:  # read again (a new reader version) into the same text
            chunks += doc_chunks
            chunk_vecs.append(old.chunk_vectors[reused.chunks])
            sent_keys += keys
            sent_vecs.append(old.sentence_vectors[reused.sentences])
        else:
            new_chunks += doc_chunks
            new_sent_keys += keys
            new_sent_texts += [doc.text[start:end] for start, end in doc_sentences]
        files[doc.source] = {"sha256": doc.sha256, "title": doc.title, "language": doc.language,
                             "chunks": len(doc_chunks), "sentences": len(doc_sentences), "chars": len(doc.text)}
        if doc.pages:
            files[doc.source]["pages"] = list(doc.pages)

    texts = [c.text for c in new_chunks] + new_sent_texts
    t0 = time.perf_counter()
    vectors = embedder.embed(texts, "passage", progress=progress, desc="Embedding",
                             callback=(lambda done, total: on_progress("embedding", done, total)) if on_progress else None)
    report.embed_seconds = time.perf_counter() - t0
    report.embedded_texts = len(texts)
    dim = vectors.shape[1] if len(texts) else (old.chunk_vectors.shape[1] if old else embedder.dim)
    chunk_vecs.append(vectors[:len(new_chunks)].reshape(-1, dim))
    sent_vecs.append(vectors[len(new_chunks):].reshape(-1, dim))
    chunks += new_chunks
    sent_keys += new_sent_keys
    return IndexData(
        manifest={"files": dict(sorted(files.items()))},
        chunks=chunks,
        chunk_vectors=np.vstack(chunk_vecs).astype(np.float32),
        sentence_keys=sent_keys,
        sentence_vectors=np.vstack(sent_vecs).astype(np.float32),
    )


@dataclass(frozen=True)
class _Rows:
    """Rows of one file in an index: its chunks and its embedded sentences."""

    chunks: list[int]
    sentences: list[int]


def _rows_by_source(index: IndexData) -> dict[str, _Rows]:
    rows: dict[str, _Rows] = {}
    for i, c in enumerate(index.chunks):
        rows.setdefault(c.source, _Rows([], [])).chunks.append(i)
    for i, key in enumerate(index.sentence_keys):
        rows.setdefault(key[0], _Rows([], [])).sentences.append(i)
    return rows


def _same_plan(old: IndexData, old_rows: dict[str, _Rows], chunks: list[Chunk],
               sentence_keys: list[tuple[str, int, int]]) -> _Rows | None:
    """The old rows of a file whose chunks and embedded sentences are the same texts at the same
    places as before (so are their vectors), or None when anything differs."""
    rows = old_rows.get(chunks[0].source) if chunks else None
    if rows is None or len(rows.chunks) != len(chunks):
        return None
    if [tuple(old.sentence_keys[i]) for i in rows.sentences] != sentence_keys:
        return None
    same = all((o.id, o.start, o.end, o.text, o.sentences) == (c.id, c.start, c.end, c.text, c.sentences)
               for o, c in zip((old.chunks[i] for i in rows.chunks), chunks))
    return rows if same else None


def _write(store: Path, data: IndexData) -> None:
    name = f"index-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = store / (name + ".tmp")
    tmp.mkdir()
    try:
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in data.chunks:
                row = {"id": c.id, "source": c.source, "ordinal": c.ordinal, "start": c.start, "end": c.end,
                       "title": c.title, "language": c.language,
                       "sentences": [[s.start, s.end] for s in c.sentences], "text": c.text}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with open(tmp / "sentences.jsonl", "w", encoding="utf-8") as f:
            for key in data.sentence_keys:
                f.write(json.dumps(list(key), ensure_ascii=False) + "\n")
        _write_vectors(tmp / "chunks.faiss", data.chunk_vectors)
        _write_vectors(tmp / "sentences.faiss", data.sentence_vectors)
        data.manifest["counts"] = {"files": len(data.files), "chunks": len(data.chunks),
                                   "sentences": len(data.sentence_keys)}
        (tmp / "manifest.json").write_text(json.dumps(data.manifest, indent=2, ensure_ascii=False),
                                           encoding="utf-8")
        _fsync_dir(tmp)
        final = store / name
        os.rename(tmp, final)
        pointer = store / "CURRENT.tmp"
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, store / "CURRENT")  # the switch: atomic on POSIX and Windows
        _fsync_dir(store)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.path = final
    for old in store.glob("index-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def _write_vectors(path: Path, vectors: np.ndarray) -> None:
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        if child.is_file():
            with open(child, "rb") as f:
                os.fsync(f.fileno())


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """One writer at a time per store (a second ``amqa index`` waits)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock, the atomic switch still protects readers
        yield
        return
    with open(store / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled or total == 0, leave=False)


def _no_documents_message(docs, skipped: list[Skipped]) -> str:
    msg = f"no document to index in '{docs}': amqa reads {', '.join(SUPPORTED_SUFFIXES)} files."
    if skipped:
        shown = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5])
        msg += f" Skipped: {shown}" + (" ..." if len(skipped) > 5 else "")
    return msg


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
