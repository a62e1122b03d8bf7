"""Read a folder of documents, each file by the reader of its format (:data:`amqa.ingest.readers.READERS`):
text and Markdown, HTML, PDF (text layer, or OCR of scanned pages), Word, PowerPoint, Excel, CSV,
OpenDocument text and presentations, EPUB, RTF and e-mail.

>>> from amqa.settings import bundled_seeds
>>> documents, skipped = load_folder(bundled_seeds())
>>> [d.source for d in documents][:2], len(documents), skipped
(['000_c8fb014e83a46547.txt', '001_3c9c59b90a3a1c43.txt'], 5, [])

Files that cannot be used (unsupported type, unreadable, empty, binary, a link to a file outside the
folder, a link loop or a dangling link) and subfolders that cannot be listed are skipped and listed in
``skipped`` (:class:`Skipped`: the file and a one-line reason); loading never stops on one bad entry, links to folders are
never followed, and nothing outside the folder is read.
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from amqa.errors import InvalidInputError
from amqa.ingest.readers import READERS, ZIP_SUFFIXES, Budget, ReadLimits, Unreadable, check_zip, decode_text, too_much_text
from amqa.text import detect_language
from amqa.types import Document

__all__ = ["READER_VERSION", "SUPPORTED_SUFFIXES", "DocumentFolder", "FolderScan", "ReadLimits", "Skipped", "SourceFile",
           "decode_text",
           "load_folder", "read_document", "scan_folder", "scan_folders"]

#: The suffixes amqa reads, in the order of :data:`amqa.ingest.readers.READERS` (which they follow from).
SUPPORTED_SUFFIXES = tuple(READERS)
#: Bumped whenever a file would be read into different text or metadata: an index re-reads every file
#: read by another version (2: PDF through pdfium; HTML white space collapsed, table rows on one line;
#: 3: PDF lines wrapped inside a sentence joined; 4: page starts recorded (PDF pages, slides), HTML
#: titled by its first heading without <title>, UTF-16 text, Office, OpenDocument, EPUB, RTF, CSV and
#: e-mail files, OCR of scanned PDF pages). Text already read is unchanged, so the index keeps its
#: vectors (amqa.index.local.store embeds again only files whose text changed).
#: 5: languages told by their script (Chinese, Japanese, Korean, Arabic, Russian, Hindi...), and the BM25
#: words of Han, kana and Hangul text as character pairs (amqa.text): languages and tokens change; read
#: limits (amqa.ingest.readers.ReadLimits), binary text files refused, a Markdown title only from a front matter
#: that closes, an EPUB chapter listed twice read once.
#: 6: page furniture left out (issue 24): HTML navigation, banner, footer and complementary landmarks,
#: what the page hides, content outside a marked main, blocks of links (amqa.ingest.readers.HtmlReading);
#: PDF running heads and page numbers; hard-wrapped plain-text lines joined.
READER_VERSION = 6
#: A file whose modification time is this close to the last scan is hashed again even when its size and
#: time look unchanged: a write in the same clock tick as the scan leaves both as they were. 2 s is the
#: coarsest timestamp of a common file system (FAT); ext4, APFS and NTFS keep 1 ns to 100 ns.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class Skipped:
    """A file that is not indexed, and why (one line). ``size``, ``mtime_ns`` and ``sha256`` are set
    for a supported file that could not be read, so that it is not read again until it changes."""

    source: str
    reason: str
    size: int = -1
    mtime_ns: int = -1
    sha256: str = ""

    def to_dict(self) -> dict:
        """The manifest's record of it (the stamp only when there is one)."""
        out: dict = {"source": self.source, "reason": self.reason}
        if self.sha256:
            out.update(size=self.size, mtime_ns=self.mtime_ns, sha256=self.sha256)
        return out


@dataclass(frozen=True)
class SourceFile:
    """A supported file found in the folder, before it is read: enough to tell whether it changed
    (``size`` and ``mtime_ns`` first; ``sha256`` decides)."""

    source: str
    path: Path
    sha256: str
    size: int = -1
    mtime_ns: int = -1

    def stamp(self) -> dict:
        """What the manifest records of the file to recognise it unchanged without reading it."""
        return {"sha256": self.sha256, "size": self.size, "mtime_ns": self.mtime_ns}


@dataclass(frozen=True)
class DocumentFolder:
    """A folder whose files an index holds. Its files are cited as ``prefix + path inside it``: the
    documents folder has no prefix; the UI's library of uploads, indexed beside the bundled seeds,
    has ``library/``. ``writable`` is false for the bundled seeds (amqa never changes them)."""

    path: Path
    prefix: str = ""
    writable: bool = True

    def path_of(self, source: str) -> Path | None:
        """The file behind ``source`` when it belongs to this folder (never a path outside it), else None.

        >>> DocumentFolder(Path("/lib"), "library/").path_of("library/a/b.md").as_posix()
        '/lib/a/b.md'
        >>> DocumentFolder(Path("/lib"), "library/").path_of("library/../x.md") is None
        True
        """
        if not source.startswith(self.prefix):
            return None
        relative = source[len(self.prefix):]
        parts = relative.split("/")
        if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or "\\" in relative:
            return None
        return self.path.joinpath(*parts)


@dataclass(frozen=True)
class IndexedFile:
    """A file of an index, as a documents list shows it: ``page_count`` is its pages or slides (None for
    a format without pages); ``removable`` is false for the bundled seeds."""

    source: str
    title: str
    language: str
    chunks: int
    page_count: int | None = None
    removable: bool = True


@dataclass(frozen=True)
class DocumentList:
    """What an index holds: its files, the files it skipped and why, and when it was last written."""

    files: tuple[IndexedFile, ...]
    skipped: tuple[Skipped, ...]
    updated: str


@dataclass(frozen=True)
class FolderScan:
    files: tuple[SourceFile, ...]
    skipped: tuple[Skipped, ...]


def scan_folder(folder: str | os.PathLike, known: Mapping[str, Mapping] | None = None, *, prefix: str = "",
                trusted_before_ns: int = 0) -> FolderScan:
    """List the supported files under ``folder`` (recursively, hidden entries ignored) with their sha256.

    ``known`` maps sources to what an index recorded of them (``size``, ``mtime_ns``, ``sha256``): a
    file whose size and modification time are the same keeps its recorded sha256 without being read,
    unless it was modified within :data:`RACY_NS` of ``trusted_before_ns`` (when that stamp was taken).
    ``prefix`` is put before each file's path in its source (:class:`DocumentFolder`).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(
            f"documents folder not found: '{folder}'. Pass an existing folder with --docs DIR."
        )
    known = known or {}
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    inside = root.resolve()
    # os.scandir and plain strings rather than os.walk and Path: this runs before every answer, and on
    # 500 small files that took the scan from 12 ms to 5.6 ms (pathlib's parsing was most of it).
    for path, relative, entry in _walk(str(root), prefix, skipped):
        source = prefix + relative
        if entry.is_symlink():
            why = _link_problem(path, inside)
            if why is not None:
                skipped.append(Skipped(source, why))
                continue
        suffix = os.path.splitext(entry.name)[1]
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(source, f"unsupported type '{suffix or entry.name}' "
                                           f"(amqa reads {', '.join(SUPPORTED_SUFFIXES)})"))
            continue
        try:
            st = entry.stat()  # of the link's target, for a link
            if not stat.S_ISREG(st.st_mode):  # a pipe named *.txt would block the read forever
                skipped.append(Skipped(source, "not a regular file (a pipe, socket or device): not read"))
                continue
            before = known.get(source)
            if (before is not None and before.get("size") == st.st_size and before.get("mtime_ns") == st.st_mtime_ns
                    and st.st_mtime_ns + RACY_NS < trusted_before_ns and before.get("sha256")):
                digest = str(before["sha256"])
            else:
                digest = _sha256_of_regular(path)
        except OSError as exc:
            skipped.append(Skipped(source, f"unreadable: {_os_reason(exc)}"))
            continue
        files.append(SourceFile(source, Path(path), digest, st.st_size, st.st_mtime_ns))
    return FolderScan(tuple(files), tuple(skipped))


def _sha256_of_regular(path: str) -> str:
    """The file's sha256, opened without blocking and refused unless still a regular file (it may have
    been replaced by a pipe since it was listed)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return hashlib.sha256(f.read()).hexdigest()


def _walk(root: str, prefix: str, skipped: list[Skipped]) -> Iterator[tuple[str, str, os.DirEntry]]:
    """The entries under ``root`` other than folders, as (path, path inside the root, entry), in the
    order of ``os.walk``: each folder's entries by name, then its subfolders by name. Hidden entries are
    skipped, links (to files or folders) are yielded, never entered. A subfolder that cannot be listed
    (unreadable, removed meanwhile) goes to ``skipped`` (its source ends in ``/``); the root raises
    :class:`InvalidInputError`. A stack, not recursion: a folder nested thousands deep is listed too."""
    pending = [(root, "")]
    while pending:
        folder, relative = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            if not relative:
                raise InvalidInputError(f"the documents folder '{root}' cannot be read ({_os_reason(exc)}). "
                                        "Make it readable, or pass another folder with --docs DIR.") from None
            gone = exc.errno == errno.ENOENT
            skipped.append(Skipped(prefix + relative, "folder removed during the scan" if gone
                                   else f"folder not read ({_os_reason(exc)})"))
            continue
        folders = []
        for e in entries:
            try:
                is_folder = not e.is_symlink() and e.is_dir(follow_symlinks=False)
            except OSError as exc:  # an entry gone or unreachable since it was listed
                skipped.append(Skipped(prefix + relative + e.name, f"unreadable: {_os_reason(exc)}"))
                continue
            if is_folder:
                folders.append((e.path, relative + e.name + "/"))
            else:
                yield e.path, relative + e.name, e
        pending += reversed(folders)


def _link_problem(path: str, inside: Path) -> str | None:
    """Why the link at ``path`` is not read, or None for a link to a file inside the folder ``inside``
    (read as that file). Its target is resolved fully (links in it, ``..``) before it is judged."""
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link loop (not read)"
        if exc.errno == errno.ENOENT:
            return "a link to nothing (its target is missing): not read"
        return f"a link that cannot be followed ({_os_reason(exc)}): not read"
    if os.path.isdir(target):
        return "a link to a folder (not followed)"
    if not Path(target).is_relative_to(inside):
        return "a link to a file outside the documents folder (not read)"
    return None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def scan_folders(folders: Sequence[DocumentFolder], known: Mapping[str, Mapping] | None = None, *,
                 trusted_before_ns: int = 0) -> FolderScan:
    """:func:`scan_folder` over several folders, each with its prefix, as one scan."""
    scans = [scan_folder(f.path, known, prefix=f.prefix, trusted_before_ns=trusted_before_ns) for f in folders]
    return FolderScan(tuple(x for s in scans for x in s.files), tuple(x for s in scans for x in s.skipped))


def read_document(file: SourceFile, limits: ReadLimits | None = None) -> Document | Skipped:
    """Read one file into a :class:`Document` with the reader of its suffix, or say why it was skipped
    (one line: the reader's reason, or the library's first line of complaint). Reading stays within
    ``limits`` (:class:`~amqa.ingest.readers.ReadLimits`): a zip-based file is checked before it is parsed,
    and a file past a limit is skipped with the limit named."""
    limits = limits or ReadLimits()
    suffix = file.path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        return Skipped(file.source, f"unsupported type '{file.path.suffix}'")
    try:
        if suffix in ZIP_SUFFIXES:
            check_zip(file.path, limits)
        extracted = reader(file.path, Budget(limits))
        if len(extracted.text) > limits.text_chars:  # formats whose text is known only once whole (HTML, RTF...)
            raise Unreadable(too_much_text(limits))
    except Unreadable as exc:
        return Skipped(file.source, str(exc))
    except OSError as exc:
        return Skipped(file.source, f"unreadable: {exc.strerror or exc}")
    except Exception as exc:  # a broken file must not stop the whole folder
        return Skipped(file.source, f"could not be read: {_one_line(exc, file)}")
    text = extracted.text
    if not text.strip():
        return Skipped(file.source, "no text (empty file, or a PDF without a text layer)")
    return Document(
        source=file.source,
        title=extracted.title.strip()[:200] or Path(file.source).stem,
        text=text,
        language=detect_language(text[:5000]),
        sha256=file.sha256,
        pages=extracted.pages,
    )


def _one_line(exc: Exception, file: SourceFile) -> str:
    """A library's error as one short line, naming the file by its source (never its full path)."""
    lines = str(exc).replace(str(file.path), file.source).strip().splitlines()
    message = lines[0] if lines else ""
    return (message or type(exc).__name__)[:200]


def load_folder(folder: str | os.PathLike) -> tuple[list[Document], list[Skipped]]:
    """Read every supported file under ``folder``: ``(documents, skipped)``."""
    scan = scan_folder(folder)
    documents: list[Document] = []
    skipped = list(scan.skipped)
    for file in scan.files:
        doc = read_document(file)
        if isinstance(doc, Document):
            documents.append(doc)
        else:
            skipped.append(doc)
    return documents, skipped
