"""Read a folder of documents, each file by the reader of its format (:data:`amqa.readers.READERS`):
text and Markdown, HTML, PDF (text layer, or OCR of scanned pages), Word, PowerPoint, Excel, CSV,
OpenDocument text and presentations, EPUB, RTF and e-mail.

>>> report = load_folder("seeds")            # doctest: +SKIP
>>> [d.source for d in report.documents]     # doctest: +SKIP
['000_c8fb014e83a46547.txt', ...]

Files that cannot be used (unsupported type, unreadable, empty, binary, a link to a file outside the
folder) are skipped and listed in ``report.skipped`` with a one-line reason; loading never stops on one
bad file, and nothing outside the folder is read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInputError
from .readers import READERS, Unreadable, decode_text
from .text import detect_language
from .types import Document

__all__ = ["READER_VERSION", "SUPPORTED_SUFFIXES", "FolderScan", "Skipped", "SourceFile", "decode_text", "load_folder",
           "read_document", "scan_folder"]

#: The suffixes amqa reads, in the order of :data:`amqa.readers.READERS` (which they follow from).
SUPPORTED_SUFFIXES = tuple(READERS)
#: Bumped whenever a file would be read into different text or metadata: an index re-reads every file
#: read by another version (2: PDF through pdfium; HTML white space collapsed, table rows on one line;
#: 3: PDF lines wrapped inside a sentence joined; 4: page starts recorded (PDF pages, slides), HTML
#: titled by its first heading without <title>, UTF-16 text, Office, OpenDocument, EPUB, RTF, CSV and
#: e-mail files, OCR of scanned PDF pages). Text already read is unchanged, so the index keeps its
#: vectors (amqa.store embeds again only files whose text changed).
READER_VERSION = 4


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class SourceFile:
    """A supported file found in the folder, before it is read: enough to tell whether it changed."""

    source: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class FolderScan:
    files: tuple[SourceFile, ...]
    skipped: tuple[Skipped, ...]


def scan_folder(folder: str | os.PathLike) -> FolderScan:
    """List the supported files under ``folder`` (recursively, hidden entries ignored) with their sha256."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(
            f"documents folder not found: '{folder}'. Pass an existing folder with --docs DIR."
        )
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    inside = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            source = path.relative_to(root).as_posix()
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(source, f"unsupported type '{path.suffix or name}' "
                                               f"(amqa reads {', '.join(SUPPORTED_SUFFIXES)})"))
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(inside):
                skipped.append(Skipped(source, "a link to a file outside the documents folder (not read)"))
                continue
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                skipped.append(Skipped(source, f"unreadable: {exc.strerror or exc}"))
                continue
            files.append(SourceFile(source, path, digest))
    return FolderScan(tuple(files), tuple(skipped))


def read_document(file: SourceFile) -> Document | Skipped:
    """Read one file into a :class:`Document` with the reader of its suffix, or say why it was skipped
    (one line: the reader's reason, or the library's first line of complaint)."""
    reader = READERS.get(file.path.suffix.lower())
    if reader is None:
        return Skipped(file.source, f"unsupported type '{file.path.suffix}'")
    try:
        extracted = reader(file.path)
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
