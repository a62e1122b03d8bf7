"""Read a folder of documents: ``.txt``, ``.md``, ``.html``/``.htm`` (visible text) and ``.pdf`` (text layer).

>>> report = load_folder("seeds")            # doctest: +SKIP
>>> [d.source for d in report.documents]     # doctest: +SKIP
['000_c8fb014e83a46547.txt', ...]

Files that cannot be used (unsupported type, unreadable, empty, binary) are skipped and listed in
``report.skipped`` with the reason; loading never stops on one bad file.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from .errors import InvalidInputError
from .text import detect_language
from .types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
#: Bumped whenever a file would be read into different text: an index re-reads every file read by
#: another version (2: PDF through pdfium; HTML white space collapsed, table rows on one line; 3: PDF
#: lines wrapped inside a sentence joined).
READER_VERSION = 3


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
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                skipped.append(Skipped(source, f"unreadable: {exc.strerror or exc}"))
                continue
            files.append(SourceFile(source, path, digest))
    return FolderScan(tuple(files), tuple(skipped))


def read_document(file: SourceFile) -> Document | Skipped:
    """Read one file into a :class:`Document`, or say why it was skipped."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        return Skipped(file.source, f"unreadable: {exc.strerror or exc}")
    suffix = file.path.suffix.lower()
    try:
        if suffix == ".pdf":
            title, text = _read_pdf(file.path)
        else:
            if b"\x00" in data[:8192]:
                return Skipped(file.source, "binary content (NUL bytes) in a text file")
            raw = decode_text(data)
            if suffix in (".html", ".htm"):
                title, text = _html_to_text(raw)
            else:
                text = raw
                title = _first_line(text, markdown=suffix in (".md", ".markdown"))
    except Exception as exc:  # a broken PDF or HTML must not stop the whole folder
        return Skipped(file.source, f"could not be read: {exc}")
    if not text.strip():
        return Skipped(file.source, "no text (empty file, or a PDF without a text layer)")
    return Document(
        source=file.source,
        title=title or Path(file.source).stem,
        text=text,
        language=detect_language(text[:5000]),
        sha256=file.sha256,
    )


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


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM allowed), else CP1252 (French files saved on Windows), else Latin-1.

    Line endings are kept, so offsets match the file as decoded.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _first_line(text: str, markdown: bool) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return (line.lstrip("#").strip() if markdown else line)[:200]
    return ""


class _VisibleText(HTMLParser):
    """Visible text of an HTML page: white space collapsed as a browser does (kept inside ``<pre>``),
    a line break at each block, and a table row on one line with its cells separated by `` | ``."""

    _HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
              "footer", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "dl", "caption", "figure", "hr"}
    _CELL = {"td", "th"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._hidden = 0
        self._pre = 0
        self._in_title = False
        self._cells = 0  # cells opened in the current row
        self._row_start = 0  # where the current row's text begins in parts

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self._hidden += 1
        if tag == "title":
            self._in_title = True
        if tag == "pre":
            self._pre += 1
        if tag == "tr":
            self._cells, self._row_start = 0, len(self.parts)
        if tag in self._CELL:
            if self._cells and "".join(self.parts[self._row_start:]).strip():  # no separator after empty cells
                self.parts.append(" | ")
            self._cells += 1
        elif tag in self._BLOCK:  # a block inside a cell stays on the row
            self.parts.append(" " if self._cells and tag != "tr" else "\n")

    def handle_endtag(self, tag):
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag == "title":
            self._in_title = False
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in ("tr", "table"):
            self._cells = 0
        if tag in self._BLOCK:
            self.parts.append(" " if self._cells and tag != "tr" else "\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))


def _html_to_text(raw: str) -> tuple[str, str]:
    parser = _VisibleText()
    parser.feed(raw)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" ?\n[ \n]*", "\n", text).strip()
    return re.sub(r"\s+", " ", parser.title).strip(), text


def _read_pdf(path: Path) -> tuple[str, str]:
    """The text layer with pdfium (pypdfium2): on the French Debian Reference (147 pages) 0.6 s and
    words kept apart, where pypdf took 12 s and glued many words together ("dansladocumentation")."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(clean_pdf_text(textpage.get_text_range()))
            textpage.close()
            page.close()
        title = str(pdf.get_metadata_dict().get("Title") or "")
    finally:
        pdf.close()
    text = "\n\n".join(p for p in pages if p)
    return title or _first_line(text, markdown=False), text


def clean_pdf_text(text: str) -> str:
    r"""pdfium's page text as plain lines: CRLF to LF, words hyphenated at a line end (pdfium marks the
    break with U+FFFE) joined again, and lines wrapped inside a sentence joined (:func:`join_wrapped`).

    >>> clean_pdf_text("motifs géné\ufffe\r\nriques\r\nFin ")
    'motifs génériques\nFin'
    """
    text = join_wrapped(text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\ufffe[\n ]?", "", text).strip()


_CONTINUES = re.compile(r"[a-zà-ÿ«(\"“”]")
_NOT_PROSE = re.compile(r"^\s*(?:[$#>]\s|[—–•*-]\s?$)")


def join_wrapped(text: str) -> str:
    r"""A PDF's lines are its layout: a sentence wraps at the page width. A line that is nearly as long
    as the page's longest (70%), does not end a sentence or announce a list (. ! ? : ;), and is followed
    by a line starting in lower case, is joined to it by a space (the text keeps its length, so
    offsets hold). Lines of code, list items and titles stay lines.

    >>> join_wrapped("Il faudrait s’abstenir de créer des liens physiques ou des liens\nsymboliques compliqués.\nNote")
    'Il faudrait s’abstenir de créer des liens physiques ou des liens symboliques compliqués.\nNote'
    >>> join_wrapped("Essayez ce qui suit, par exemple, dans un terminal ouvert :\nls -l mypipe")
    'Essayez ce qui suit, par exemple, dans un terminal ouvert :\nls -l mypipe'
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    # pdfium may end a hyphenated line with U+FFFE and no line break: such a line is two page lines.
    wide = 0.7 * max(len(part) for line in lines for part in line.split("\ufffe"))
    out = []
    for line, following in zip(lines, lines[1:] + [""]):
        stripped = line.rstrip()
        joins = (len(stripped.rsplit("\ufffe", 1)[-1]) >= wide and stripped[-1:] not in ".!?:;" and not _NOT_PROSE.match(line)
                 and bool(_CONTINUES.match(following)))
        out.append(line + (" " if joins else "\n"))
    return "".join(out)[:-1]
