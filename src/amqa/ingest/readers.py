r"""One reader per file format, registered in :data:`READERS` (suffix -> reader).

Each reader takes a path inside the documents folder and returns an :class:`Extracted`: the text
that citations' character offsets refer to, a title, and where each page (or slide) starts in that
text. A reader raises :class:`Unreadable` with a one-line reason when a file cannot be used;
:func:`amqa.ingest.documents.read_document` turns that, or any library error, into a skipped file.

>>> sorted(READERS)[:6]
['.csv', '.docx', '.eml', '.epub', '.htm', '.html']
>>> join_pages(["Page one.", "", "Page three."])
JoinedPages(text='Page one.\n\nPage three.', starts=(0, 11, 11))

The libraries, each the common choice for its format in Python, pure Python over lxml or the
standard library, and none fetching anything (their XML parsers resolve no external entity, so a
document cannot make amqa read another file): pdfium through pypdfium2 for PDF (0.3 s for the 147
pages of the French Debian Reference, where pypdf took 12 s and glued words together); python-docx,
python-pptx and openpyxl (read-only mode, cached formula values), all maintained; odfpy for
OpenDocument (the format's long-standing Python implementation: stable rather than active, last
released in 2020; it writes the test files too); striprtf for RTF (a small pure-Python converter
that decodes ``\'e9`` and ``\u233?``); Tesseract through pytesseract for scanned PDF pages. EPUB
needs no library: it is a zip of XHTML files in the order its package file lists, read by the HTML
reader below (ebooklib would add a dependency to do the same). E-mail is the standard library's
``email``.

Every read has limits (:class:`ReadLimits`): a zip-based file (Office, OpenDocument, EPUB) is checked
part by part before any library parses it (:func:`check_zip`), a file read whole is read up to a
size, the text a file gives and the time its reading takes are bounded (:class:`Budget`); a file
over a limit is skipped with the reason, never half read. No regular expression here runs on a
document's text in more than linear time.
"""
from __future__ import annotations

import csv
import io
import posixpath
import re
import threading
import time as _time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from html.parser import HTMLParser
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from amqa.errors import InvalidInputError

#: The reason a scanned PDF is skipped when Tesseract is missing (a test and the README quote it).
NO_OCR = "no text layer; install tesseract-ocr for OCR"
#: Scanned pages are rendered at 200 dpi for Tesseract: on a page of 9-pt French and English text
#: scanned at 300 dpi, it misread 1, 0 and 2 of 2,033 characters at 150, 200 and 300 dpi, and took
#: 6.4 s at 200 dpi against 9.1 s at 300 (2 busy cores).
OCR_DPI = 200
#: A page is a scan when it has no text layer and one image covers this share of it: a scanner's or
#: Pillow's PDF page is one image covering all of it (1.0), while the cover of the French Debian
#: Reference, a logo on 42% of its page, is no scan (OCR would read "debian" there and shift every
#: offset after it).
SCAN_COVERAGE = 0.6
#: Formats whose pages are slides: a citation says "slide 3" rather than "p. 3".


@dataclass(frozen=True)
class Extracted:
    """What a reader returns: the text, the title ('' when the file names none) and the offset in
    ``text`` where each page or slide starts (empty for formats without pages)."""

    text: str
    title: str = ""
    pages: tuple[int, ...] = ()


class Unreadable(Exception):
    """A file amqa cannot use; the message is the one-line reason shown in the skipped list."""


_SPLIT = "split it into smaller files to index it"


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost; a file over any limit is skipped with the reason (issue 22).

    The defaults let the legitimate large files of ``bench/readers.py`` through (a 1,000-page .docx,
    an .odt of 20,000 paragraphs, an .xlsx of 100,000 rows) and stop each of its decompression bombs
    before a part is parsed, in under 10 ms.
    """

    #: Characters of text one file may give. Indexing takes about 68 times the text in memory (issue
    #: 22: 20 MB of text, 1.41 GB): 10 M characters (some 5,000 pages, three times "War and Peace")
    #: stay under 1 GB. A bigger file is skipped rather than indexed in part: a partial index would
    #: answer "not in the documents" about its end, where a skip is listed with what to do.
    text_chars: int = 10_000_000
    #: Bytes of a file read whole (text, Markdown, HTML, CSV, RTF, e-mail): 4 bytes for each character
    #: of ``text_chars`` (UTF-32, the widest encoding), so no text file within the text limit is
    #: refused for its bytes alone; the file is read up to this size, never further.
    file_bytes: int = 40 * 2**20
    #: Decompressed bytes of one part of a zip-based file, and of all of them. In ``bench/readers.py``
    #: the 1,000-page .docx has a 4.2 MB word/document.xml, the .odt an 8.2 MB content.xml, the
    #: .xlsx of 100,000 rows a 23 MB sheet (openpyxl streams it); python-docx and odfpy hold 10-15
    #: times their XML as a tree (issue 22: the .odt's 22 MB content.xml took 774 MB).
    part_bytes: int = 64 * 2**20
    total_bytes: int = 256 * 2**20
    #: Largest decompressed/compressed ratio of a part bigger than ``ratio_from`` bytes: the
    #: legitimate files of ``bench/readers.py`` compress 7 times (.docx, .odt) and 14 times (the
    #: .xlsx, the same rows again and again); its bombs 339-471 times, the issue's about 1,000
    #: (deflate's ceiling is 1,032).
    ratio: float = 100.0
    ratio_from: int = 2**20
    #: Parts of one zip: an Office file has tens, an EPUB one per chapter and picture.
    members: int = 10_000
    #: Seconds one file's reading may take, checked between its pages, slides, rows or chapters. OCR
    #: reads a scanned page in 6.4 s (:data:`OCR_DPI`): 600 s reads a 90-page scan; the French
    #: Debian Reference's 147 pages of text take 0.3 s.
    seconds: float = 600.0
    #: Characters in which a Markdown front matter must close to give the title (real ones hold a
    #: few hundred; bounded, so an unclosed one is never scanned to the end of a big file).
    front_matter_chars: int = 16_384
    #: Share of control characters (other than tab, line breaks and form feed) above which a text
    #: file is binary: random bytes read as Latin-1 hold 24% in ``bench/readers.py`` (59 of 256 byte
    #: values), the colour-coded log of tests/test_adversarial.py 4%, text none.
    control_share: float = 0.1

    def __post_init__(self) -> None:
        for name in ("text_chars", "file_bytes", "part_bytes", "total_bytes", "ratio_from", "members",
                     "front_matter_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"ReadLimits.{name} must be a positive integer. Currently, {name} is {value!r}")
        for name in ("ratio", "seconds", "control_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise InvalidInputError(f"ReadLimits.{name} must be a positive number. Currently, {name} is {value!r}")
        if self.control_share > 1:
            raise InvalidInputError(f"ReadLimits.control_share is a share, at most 1. Currently, control_share is "
                                    f"{self.control_share!r}")


def too_much_text(limits: ReadLimits) -> str:
    """Why a file with more text than ``limits`` allows is skipped."""
    return f"more than {limits.text_chars:,} characters of text (ReadLimits.text_chars): not indexed; {_SPLIT}"


class Budget:
    """What is left of one file's :class:`ReadLimits` while it is read: its readers :meth:`take` each
    piece of text they extract, and a piece past the text limit or the deadline stops the read."""

    def __init__(self, limits: ReadLimits | None = None) -> None:
        self.limits = limits or ReadLimits()
        self.chars = 0
        self.deadline = _time.monotonic() + self.limits.seconds

    def take(self, text: str) -> str:
        """``text``, counted; raises :class:`Unreadable` past a limit."""
        self.chars += len(text)
        if self.chars > self.limits.text_chars:
            raise Unreadable(too_much_text(self.limits))
        if _time.monotonic() > self.deadline:
            raise Unreadable(f"reading took more than {self.limits.seconds:g} s (ReadLimits.seconds): not indexed; "
                             f"{_SPLIT}")
        return text


def read_capped(path: Path, limits: ReadLimits) -> bytes:
    """The file's bytes, read up to ``limits.file_bytes`` and never further (its size may change
    between a check and the read)."""
    with open(path, "rb") as f:
        data = f.read(limits.file_bytes + 1)
    if len(data) > limits.file_bytes:
        raise Unreadable(f"larger than {limits.file_bytes:,} bytes (ReadLimits.file_bytes): not read; {_SPLIT}")
    return data


#: Formats that are zip archives, checked by :func:`check_zip` before their library opens them.
ZIP_SUFFIXES = (".docx", ".pptx", ".xlsx", ".odt", ".odp", ".epub")
_BOMB = "a possible decompression bomb: not read"


def check_zip(path: Path, limits: ReadLimits) -> None:
    """Raise :class:`Unreadable` unless the zip at ``path`` is within ``limits``: its number of parts,
    each part's size and compression ratio, their total. Declared sizes are checked first, then the
    parts are decompressed (in 1 MB pieces, nothing kept) to check the real sizes, since a header may
    lie. Python's zipfile, which every library here reads through, never returns more than a part's
    declared size; bzip2 and LZMA parts are refused (no Office, OpenDocument or EPUB writer uses
    them, and zipfile decompresses them without an output bound)."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > limits.members:
            raise Unreadable(f"a zip of {len(infos):,} parts, more than {limits.members:,} (ReadLimits.members): {_BOMB}")
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Unreadable(f"part '{info.filename[:80]}' uses compression method {info.compress_type} "
                                 "(only stored and deflated are read): not read")
            _check_part(info.filename, info.file_size, info.compress_size, limits)
            total += info.file_size
            if total > limits.total_bytes:
                raise Unreadable(f"its parts decompress to more than {limits.total_bytes:,} bytes "
                                 f"(ReadLimits.total_bytes): {_BOMB}")
        for info in infos:  # the real sizes (and CRCs: a damaged part is found before any parsing)
            if info.is_dir() or info.compress_type == zipfile.ZIP_STORED:  # stored: no bigger than the file
                continue
            size = 0
            with archive.open(info) as part:
                while piece := part.read(2**20):
                    size += len(piece)
                    if size > info.file_size:  # zipfile stops at the declared size; in case it did not
                        raise Unreadable(f"part '{info.filename[:80]}' is larger than its header says: {_BOMB}")


def _check_part(name: str, size: int, compressed: int, limits: ReadLimits) -> None:
    if size > limits.part_bytes:
        raise Unreadable(f"part '{name[:80]}' decompresses to {size:,} bytes, more than {limits.part_bytes:,} "
                         f"(ReadLimits.part_bytes): {_BOMB}")
    if size > limits.ratio_from and size > limits.ratio * max(compressed, 1):
        raise Unreadable(f"part '{name[:80]}' is {size / max(compressed, 1):,.0f} times its compressed size, more than "
                         f"{limits.ratio:g} (ReadLimits.ratio): {_BOMB}")


@dataclass(frozen=True)
class JoinedPages:
    """Pages joined into one text, and where each page starts in it."""

    text: str
    starts: tuple[int, ...]


def join_pages(pages: Sequence[str], separator: str = "\n\n") -> JoinedPages:
    """The non-empty pages joined by ``separator``; an empty page starts where the next text does, so
    :func:`page_at` never names it."""
    text = separator.join(p for p in pages if p)
    starts: list[int] = []
    at = 0
    for p in pages:
        starts.append(at)
        if p:
            at += len(p) + len(separator)
    return JoinedPages(text, tuple(min(s, len(text)) for s in starts))


# --- text, Markdown, HTML -----------------------------------------------------------------------

_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"),
         (b"\xfe\xff", "utf-16"), (b"\xef\xbb\xbf", "utf-8-sig"))


def decode_text(data: bytes, limits: ReadLimits | None = None) -> str:
    """Text with a byte-order mark in its encoding (UTF-8, UTF-16, UTF-32); else UTF-8, CP1252 (French
    files saved on Windows), Latin-1. Line endings are kept, so offsets match the file as decoded.
    Binary content is refused: NUL bytes in the first 8 kB, or control characters over
    ``limits.control_share`` of the text (:func:`control_share`).

    >>> decode_text("Élève".encode("utf-16")), decode_text("Élève".encode("cp1252"))
    ('Élève', 'Élève')
    """
    limits = limits or ReadLimits()
    text = _decode(data)
    share = control_share(text)
    if share > limits.control_share:
        raise Unreadable(f"binary content ({share:.0%} control characters) in a text file: not read")
    return text


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data[:8192]:
        raise Unreadable("binary content (NUL bytes) in a text file")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


# C0 controls but tab, line feed, vertical tab, form feed and carriage return; DEL; C1 controls (which
# CP1252 text never holds: it maps 0x80-0x9f to letters and signs).
_CONTROLS = dict.fromkeys([*range(0, 9), *range(14, 32), *range(0x7F, 0xA0)])


def control_share(text: str, sample: int = 4096, windows: int = 64) -> float:
    r"""The share of control characters in ``text``: in all of it when short, else in ``windows``
    stretches of ``sample`` characters spread over it (a binary tail after a text head is seen too).

    >>> control_share("Élève\tà l'école\r\n"), round(control_share("ab\x01\x9b"), 2)
    (0.0, 0.5)
    """
    if len(text) > sample * windows:
        step = (len(text) - sample) / (windows - 1)
        text = "".join(text[int(i * step):int(i * step) + sample] for i in range(windows))
    return (len(text) - len(text.translate(_CONTROLS))) / len(text) if text else 0.0


def first_line(text: str, markdown: bool = False) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return (line.lstrip("#").strip() if markdown else line)[:200]
    return ""


def read_text_file(path: Path, budget: Budget) -> str:
    """A file read whole (up to ``file_bytes``), decoded, and counted in the budget."""
    return budget.take(decode_text(read_capped(path, budget.limits), budget.limits))


def _read_plain(path: Path, budget: Budget) -> Extracted:
    text = join_hard_wrapped(read_text_file(path, budget))
    return Extracted(text, first_line(text))


_HANGING = re.compile(r" *\S+ {2,}(?=\S)")


def join_hard_wrapped(text: str, width: int = 100, share: float = 0.99, wide: float = 0.7) -> str:
    r"""A plain text wrapped by hand or by a formatter (a manual page from groff, a README at 72
    columns) with each paragraph's lines joined again, so that a sentence is not cut at the page width.
    The text is hard-wrapped when ``share`` of its non-blank lines are at most ``width`` characters (a
    text with a paragraph per line, as the seeds are, is left as it is). A line then joins the next by a
    space in place of its line break (the text keeps its length, so offsets hold) when it is at least
    ``wide`` times the longest line, does not end a sentence or announce a list (. ! ? : ;), is not a
    line of code or a list mark, and the next line is not blank and has the same indentation (or starts
    at the column of a hanging paragraph's text, ``-H     suivre les liens``): a man page's option
    (``-a, --archive``) and its indented description on the next line stay apart.

    >>> join_hard_wrapped("   si un fichier cible existant ne peut pas être ouvert, alors le\n"
    ...                   "   détruire et essayer à nouveau\n\n   -b     identique")
    '   si un fichier cible existant ne peut pas être ouvert, alors le    détruire et essayer à nouveau\n\n   -b     identique'
    """
    lines = text.split("\n")
    filled = [line.rstrip() for line in lines if line.strip()]
    if len(lines) < 2 or not filled or sum(len(line) <= width for line in filled) < share * len(filled):
        return text
    longest = wide * max(len(line) for line in filled)
    out = []
    for line, following in zip(lines, lines[1:] + [""]):
        stripped = line.rstrip()
        indent = len(line) - len(line.lstrip(" "))
        body = _HANGING.match(line)  # "-H     suivre les liens ...": the description's column
        then = len(following) - len(following.lstrip(" "))
        joins = (len(stripped) >= longest and stripped[-1:] not in ".!?:;" and not line.endswith("\r")
                 and not _NOT_PROSE.match(line) and following.strip() != ""
                 and (then == indent or (body is not None and then == body.end())) and not _NOT_PROSE.match(following))
        out.append(line + (" " if joins else "\n"))
    return "".join(out)[:-1]


def front_matter_title(text: str, limit: int = ReadLimits.front_matter_chars) -> str | None:
    r"""The ``title:`` of a YAML front matter (a first line ``---``, a closing line starting with
    ``---``), without its quotes; None without one, or when the front matter does not close within
    ``limit`` characters. Lines are scanned once: linear in ``limit``, whatever the text (a regular
    expression here took 13.7 s on 72 kB of unclosed front matter, issue 22).

    >>> front_matter_title('---\nlayout: post\ntitle: "Le campus"\n---\n# Autre'), front_matter_title("---\ntitle: x\n")
    ('Le campus', None)
    """
    if not text.startswith("---"):
        return None
    lines = text[:limit].split("\n")
    if lines[0] not in ("---", "---\r") or len(lines) < 2:
        return None
    title = None
    for n, line in enumerate(lines[1:], 1):
        if line.startswith("---"):
            return title
        if title is None and n < len(lines) - 1 and line.startswith("title:"):  # a whole line, ended by \n
            value = line[len("title:"):].removesuffix("\r").strip(" \t")
            value = value[1:] if value[:1] in ("'", '"') and len(value) > 1 else value
            value = value[:-1] if value[-1:] in ("'", '"') and len(value) > 1 else value
            title = value or None
    return None


def _read_markdown(path: Path, budget: Budget) -> Extracted:
    """The file as it is (offsets are the file's); the title from front matter or the first line."""
    text = read_text_file(path, budget)
    title = front_matter_title(text, budget.limits.front_matter_chars)
    return Extracted(text, title if title is not None else first_line(text, markdown=True))


@dataclass(frozen=True)
class HtmlReading:
    """What the HTML reader leaves out of a page as furniture rather than content (issue 24), by
    signals any page may carry rather than one site's class names. Chosen over a main-content library
    by ``bench/html_extractors.py`` on the python, libreoffice and debian collections (20, 132 and 6
    pages): these rules lose none of the 82 / 80 / 31 key-fact variants of their sets and cut the
    characters of lines repeated on 30% of a collection's pages from 16,980 / 10,308 / 2,586 to
    2,090 / 0 / 2,478 (what is left is content: "Footnotes", ">>>", "Table of Contents", table
    headers); trafilatura lost 3 / 0 / 1 variants at 2-4 times the time, readability-lxml 14 / 33 / 3,
    justext 21 / 17 / 19 (tables, code blocks and definition lists dropped). Each rule is on for every
    collection: none was chosen on one of them.

    >>> html_to_text('<nav><a href="/">Home</a></nav><main><p>Le four.</p></main><footer>© 2023</footer>').text
    'Le four.'
    >>> html_to_text('<nav>Home</nav><p>Le four.</p>', HtmlReading(landmarks=False)).text
    'Home\\nLe four.'
    """

    #: Drop navigation and page landmarks: ``<nav>``, ``role`` navigation, banner, contentinfo or
    #: search, and ``<header>``, ``<footer>`` and ``<aside>`` (or ``role="complementary"``) outside any
    #: article, section, aside, nav or main (where HTML makes them the page's banner, content info and
    #: complementary landmarks rather than a section's heading or a footnote).
    landmarks: bool = True
    #: Drop what the page hides itself: ``aria-hidden="true"``, an inline ``display: none`` or
    #: ``visibility: hidden``, and classes or ids that the page's own ``<style>`` sets to ``display: none``.
    hidden: bool = True
    #: Also drop elements with the ``hidden`` attribute. Off: LibreOffice's help marks both its Mac
    #: and its default menu paths ``hidden`` and shows one by script, so a key fact ("Outils - Options")
    #: would be lost.
    hidden_attribute: bool = False
    #: When the page marks its main content (``<main>`` or ``role="main"``), read only that (unless it
    #: is empty): Sphinx's sidebars, "previous / next" links and copyright footer are outside it.
    main_only: bool = True
    #: A ``div``, list or ``nav``-like block whose text is at least this share link text (and has at
    #: least ``link_chars`` characters of it) is a list of links: a table of contents, "related
    #: topics". Tables are never dropped this way (package tables link every name). Above 1: off.
    link_density: float = 0.8
    link_chars: int = 20


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
#: A start tag of one of these closes an open element of the same group (HTML's implied end tags).
_IMPLIED = {"p": {"p"}, "li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "tr": {"tr", "td", "th"},
            "td": {"td", "th"}, "th": {"td", "th"}}
_SECTIONING = {"article", "section", "aside", "nav", "main"}
_LANDMARK_ROLES = {"navigation", "banner", "contentinfo", "search"}
_LINK_BLOCKS = {"div", "ul", "ol", "nav", "dl", "section", "aside", "p"}
_HIDES = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.I | re.S)
_HAS_MAIN = re.compile(r"<main\b|\brole\s*=\s*[\"']?main\b", re.I)


def hidden_selectors(css: str) -> tuple[frozenset[str], frozenset[str]]:
    """The classes and ids that a style sheet hides (``display: none``) by a simple selector
    (``.debug``, ``#menu``, ``div.debug``; comma lists). Split on braces: linear in the sheet.

    >>> [sorted(names) for names in hidden_selectors(".debug, #top { display: none } p.x { color: red } div.y{display:none}")]
    [['debug', 'y'], ['top']]
    """
    classes: set[str] = set()
    ids: set[str] = set()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for rule in css.split("}"):
        selectors, _, body = rule.rpartition("{")
        if not _HIDES.search(body) or "visibility" in body.lower() and "display" not in body.lower():
            continue
        for selector in selectors.split(","):
            found = re.fullmatch(r"\s*[a-zA-Z0-9]*([.#])([\w-]+)\s*", selector)
            if found:
                (classes if found.group(1) == "." else ids).add(found.group(2))
    return frozenset(classes), frozenset(ids)


class _VisibleText(HTMLParser):
    """Visible text of an HTML page: white space collapsed as a browser does (kept inside ``<pre>``),
    a line break at each block, and a table row on one line with its cells separated by `` | ``;
    page furniture left out as :class:`HtmlReading` says."""

    _HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
              "footer", "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "dl", "caption", "figure", "hr", "nav",
              "main", "aside"}
    _HEADING = {"h1", "h2", "h3", "h4", "h5", "h6"}
    _CELL = {"td", "th"}

    def __init__(self, reading: HtmlReading | None = None, hidden_classes: frozenset[str] = frozenset(),
                 hidden_ids: frozenset[str] = frozenset(), main_only: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.reading = reading or HtmlReading()
        self.hidden_classes = hidden_classes
        self.hidden_ids = hidden_ids
        self.main_only = main_only
        self.parts: list[str] = []
        self.title = ""
        self.heading = ""  # the first heading's text: the title of a page without <title>
        self._hidden = 0
        self._pre = 0
        self._in_title = False
        self._in_heading = False
        self._cells = 0  # cells opened in the current row
        self._row_start = 0  # where the current row's text begins in parts
        # Open elements: [tag, dropped, start in parts, text chars, link chars, main]; void elements are not pushed.
        self._open: list[list[Any]] = []
        self._dropped = 0  # open elements that are dropped
        self._main = 0  # open main elements
        self._links = 0  # open <a href>

    def _drops(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        reading = self.reading
        values = {k: (v or "") for k, v in attrs}
        role = values.get("role", "").strip().lower()
        if reading.landmarks and (tag == "nav" or role in _LANDMARK_ROLES or (
                (tag in ("header", "footer", "aside") or role == "complementary")
                and not any(e[0] in _SECTIONING or e[5] for e in self._open))):
            return True
        if reading.hidden and (values.get("aria-hidden", "").strip().lower() == "true"
                               or _HIDES.search(values.get("style", ""))
                               or values.get("id", "") in self.hidden_ids
                               or not self.hidden_classes.isdisjoint(values.get("class", "").split())):
            return True
        return reading.hidden_attribute and "hidden" in values

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self._hidden += 1
        if tag == "title":
            self._in_title = True
        if tag not in _VOID:
            implied = _IMPLIED.get(tag)
            if implied and self._open and self._open[-1][0] in implied:
                self._close(len(self._open) - 1)
            drop = self._drops(tag, attrs)
            self._dropped += drop
            main = tag == "main" or ("role", "main") in attrs
            self._main += main
            self._open.append([tag, drop, len(self.parts), 0, 0, main])
            if tag == "a" and any(k == "href" for k, _ in attrs):
                self._links += 1
        if tag in self._HEADING and not self.heading and not self._dropped:
            self._in_heading = True
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

    def _close(self, at: int) -> None:
        """Close the open elements from ``at`` up; a block that is mostly links is taken out."""
        reading = self.reading
        while len(self._open) > at:
            tag, dropped, start, chars, links, main = self._open.pop()
            self._dropped -= dropped
            self._main -= main
            if tag == "a" and self._links:
                self._links -= 1
            if (tag in _LINK_BLOCKS and not self._cells and links >= reading.link_chars
                    and links >= reading.link_density * chars):
                del self.parts[start:]
                self.parts.append("\n")
            if self._open:  # a dropped list of links still counts in its parent's share ("Related topics" + links)
                self._open[-1][3] += chars
                self._open[-1][4] += links

    def handle_endtag(self, tag):
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag == "title":
            self._in_title = False
        if tag in self._HEADING:
            self._in_heading = False
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in ("tr", "table"):
            self._cells = 0
        if tag in self._BLOCK:
            self.parts.append(" " if self._cells and tag != "tr" else "\n")
        for at in range(len(self._open) - 1, -1, -1):
            if self._open[at][0] == tag:
                self._close(at)
                break

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._hidden and not self._dropped and (self._main or not self.main_only):
            self.parts.append(data if self._pre else re.sub(r"\s+", " ", data))
            if self._open:
                size = len(data.strip())
                self._open[-1][3] += size
                if self._links:
                    self._open[-1][4] += size
            if self._in_heading:
                self.heading += data


def html_to_text(raw: str, reading: HtmlReading | None = None) -> Extracted:
    """The visible text of an HTML page, titled by its ``<title>`` or else its first heading; page
    furniture left out as ``reading`` (default :class:`HtmlReading`) says."""
    reading = reading or HtmlReading()
    classes: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    if reading.hidden and "<style" in raw.lower():
        found = [hidden_selectors(css) for css in _STYLE_BLOCK.findall(raw)]
        classes = frozenset(c for f in found for c in f[0])
        ids = frozenset(i for f in found for i in f[1])
    main_only = reading.main_only and bool(_HAS_MAIN.search(raw))
    parser = _parse(raw, reading, classes, ids, main_only)
    text = _tidy("".join(parser.parts))
    # A page that is only links (an index of guides) keeps them; a page whose main is empty is read
    # whole. The libreoffice collection's guide index would read as nothing otherwise.
    if not text and reading.link_density <= 1:
        reading = replace(reading, link_density=2.0)
        parser = _parse(raw, reading, classes, ids, main_only)
        text = _tidy("".join(parser.parts))
    if not text and main_only:
        parser = _parse(raw, reading, classes, ids, False)
        text = _tidy("".join(parser.parts))
    title = re.sub(r"\s+", " ", parser.title).strip() or re.sub(r"\s+", " ", parser.heading).strip()
    return Extracted(text, title)


def _parse(raw: str, reading: HtmlReading, classes: frozenset[str], ids: frozenset[str], main_only: bool) -> _VisibleText:
    parser = _VisibleText(reading, classes, ids, main_only)
    parser.feed(raw)
    parser.close()
    return parser


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r" ?\n[ \n]*", "\n", text).strip()


def _read_html(path: Path, budget: Budget) -> Extracted:
    return html_to_text(decode_text(read_capped(path, budget.limits), budget.limits))


# --- PDF -----------------------------------------------------------------------------------------

def _read_pdf(path: Path, budget: Budget) -> Extracted:
    """The text layer with pdfium (pypdfium2): on the French Debian Reference (147 pages) 0.3 s and
    words kept apart, where pypdf took 12 s and glued many words together ("dansladocumentation").
    Pages are joined by a blank line. A page with no text layer but an image (a scan) is read by OCR
    when Tesseract is installed; a PDF that holds only such pages is skipped when it is not."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages: list[str] = []
        scanned: list[int] = []
        for i, page in enumerate(pdf):
            textpage = page.get_textpage()
            pages.append(budget.take(clean_pdf_text(textpage.get_text_range())))
            textpage.close()
            if not pages[-1] and _scanned(page, pdfium_c.FPDF_PAGEOBJ_IMAGE):
                scanned.append(i)
            page.close()
        if scanned:
            ocr = tesseract()
            if ocr is None and not any(pages):
                raise Unreadable(NO_OCR)
            if ocr is not None:  # without Tesseract, a scan among text pages stays blank
                for i in scanned:
                    pages[i] = budget.take(_ocr_page(pdf[i], ocr))
        title = str(pdf.get_metadata_dict().get("Title") or "")
    finally:
        pdf.close()
    joined = join_pages(drop_running_lines(pages))
    return Extracted(joined.text, title or first_line(joined.text), joined.starts)


_DIGITS = re.compile(r"\d+")
_PAGE_END = re.compile(r"(?:^|(?<= ))(?:#|[ivxlcdm]+)(?: ?/ ?#)?$", re.I)


def _running_key(line: str) -> str:
    """A page line with its numbers normalised: "Référence Debian 23 / 237" and "Référence Debian ii"
    read as one running head ("Référence Debian #")."""
    return _PAGE_END.sub("#", _DIGITS.sub("#", re.sub(r"\s+", " ", line).strip()))


def drop_running_lines(pages: Sequence[str], share: float = 0.5, edge: int = 2, least: int = 3) -> list[str]:
    """The pages of one PDF without their running heads and feet: a line among the first or last
    ``edge`` lines of a page whose form, numbers normalised (:func:`_running_key`), is at the top or
    the bottom of at least ``share`` of the pages (and of ``least`` pages or more) is dropped; a page
    number alone on its line is one such form. Each page stays one page, so page starts stay exact
    once the pages are joined.

    >>> drop_running_lines(["Guide 1\\nUn.", "Guide 2\\nDeux.\\n2", "Guide 3\\nTrois.\\n3", "Guide 4\\nQuatre.\\n4"])
    ['Un.', 'Deux.', 'Trois.', 'Quatre.']
    """
    if len(pages) < least:
        return list(pages)
    split = [page.split("\n") for page in pages]
    on: Counter[str] = Counter()  # pages with the form at their top or bottom (a page counts once)
    for lines in split:
        on.update({_running_key(line) for line in lines[:edge] + lines[-edge:] if line.strip()})
    need = max(least, share * sum(1 for lines in split if any(line.strip() for line in lines)))
    running = {key for key, n in on.items() if n >= need}
    if not running:
        return list(pages)
    out = []
    for lines in split:
        ends = set(range(min(edge, len(lines)))) | set(range(max(len(lines) - edge, 0), len(lines)))
        kept = [line for i, line in enumerate(lines) if i not in ends or _running_key(line) not in running]
        out.append("\n".join(kept).strip())
    return out


def _scanned(page: Any, image_type: int) -> bool:
    """Whether one image covers at least :data:`SCAN_COVERAGE` of the page (its text is in the picture)."""
    width, height = page.get_size()
    for image in page.get_objects(filter=[image_type], max_depth=2):
        left, bottom, right, top = image.get_bounds()
        if (right - left) * (top - bottom) >= SCAN_COVERAGE * width * height:
            return True
    return False


def _ocr_page(page: Any, ocr: Callable[[Any], str]) -> str:
    image = page.render(scale=OCR_DPI / 72).to_pil()
    page.close()
    return clean_pdf_text(ocr(image).replace("\f", ""))  # Tesseract ends a page with a form feed


def tesseract() -> Callable[[Any], str] | None:
    """A function that reads the text of an image with Tesseract (French and English when both are
    installed), or None when the ``tesseract`` program is missing."""
    try:
        import pytesseract
    except ImportError:  # pragma: no cover (a dependency; a broken install still reads text layers)
        return None
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError):
        return None
    lang = "+".join(code for code in ("fra", "eng") if code in installed) or None
    return lambda image: pytesseract.image_to_string(image, lang=lang)


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


# --- tables (spreadsheets, CSV) -----------------------------------------------------------------

def cell_text(value: Any) -> str:
    """A spreadsheet value as it reads: ``12`` not ``12.0``, a date without a midnight time.

    >>> [cell_text(v) for v in (None, 12.0, 2.5, datetime(2026, 9, 1), " Rabat ")]
    ['', '12', '2.5', '2026-09-01', 'Rabat']
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return re.sub(r"\s+", " ", str(value)).strip()


def table_lines(rows: Iterable[Sequence[str]]) -> list[str]:
    """A table as lines: one row a line, cells separated by `` | ``. When the first row is a header (all
    its cells text, none a number, no two alike), each later cell says its column (``header: value``),
    so a row quoted alone still reads.

    >>> table_lines([["ville", "ouverture"], ["Rabat", "2026"], ["", ""], ["Cluny", ""]])
    ['ville | ouverture', 'ville: Rabat | ouverture: 2026', 'ville: Cluny']
    >>> table_lines([["Rabat", "2026"], ["Cluny", "1901"]])
    ['Rabat | 2026', 'Cluny | 1901']
    """
    rows = [list(r) for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = rows[0]
    named = (len(rows) > 1 and all(header) and len(set(header)) == len(header)
             and not any(re.fullmatch(r"[\d\s.,:/%€$-]+", c) for c in header))
    if not named:
        return [" | ".join(c for c in r if c) for r in rows]
    return [" | ".join(header)] + [" | ".join(f"{h}: {c}" if h else c for h, c in zip_longest(header, r, fillvalue="") if c)
                                   for r in rows[1:]]


# csv's cell size limit (131,072 characters by default) is the process's: raised, for a file that needs
# it, one file at a time.
_CSV_LIMIT = threading.Lock()


def _read_csv(path: Path, budget: Budget) -> Extracted:
    """Rows of a CSV file (comma, semicolon, tab or bar separated, as the first lines show); a cell may
    be as long as the file (a long text in one cell)."""
    raw = read_text_file(path, budget)
    try:
        dialect: Any = csv.Sniffer().sniff(raw[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel

    def parse() -> list[list[str]]:
        return [[cell_text(c) for c in row] for row in csv.reader(io.StringIO(raw), dialect)]

    try:
        rows = parse()
    except csv.Error as exc:
        if "field larger than field limit" not in str(exc):
            raise
        with _CSV_LIMIT:  # raised for this file only; put back unless someone else changed it meanwhile
            previous = csv.field_size_limit()
            wanted = min(max(previous, len(raw) + 1), 2**31 - 1)
            csv.field_size_limit(wanted)
            try:
                rows = parse()
            finally:
                if csv.field_size_limit() == wanted:
                    csv.field_size_limit(previous)
    return Extracted("\n".join(table_lines(rows)))


def _read_xlsx(path: Path, budget: Budget) -> Extracted:
    """Every sheet: its name on a line, then its rows (:func:`table_lines`); formulas give their last
    computed values."""
    import openpyxl

    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        sheets = []
        for sheet in book.worksheets:
            rows = ([budget.take(cell_text(v)) for v in row] for row in sheet.iter_rows(values_only=True))
            lines = table_lines(rows)
            if lines:
                sheets.append(sheet.title + "\n" + "\n".join(lines))
        title = book.properties.title or ""
    finally:
        book.close()
    return Extracted("\n\n".join(sheets), title)


# --- word processors and presentations ----------------------------------------------------------

def _read_docx(path: Path, budget: Budget) -> Extracted:
    """Paragraphs and tables in document order (a table row on one line, cells separated by `` | ``);
    the title from the document's properties, else its first heading. Headers and footers, which
    repeat on every page, are left out."""
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    lines: list[str] = []
    heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = {id(c._tc): c.text for c in row.cells}  # a merged cell repeats: once is enough
                lines.append(budget.take(" | ".join(t for c in cells.values() if (t := re.sub(r"\s+", " ", c).strip()))))
            continue
        text = budget.take(block.text.strip())
        if text:
            lines.append(text)
            style = block.style.name if block.style is not None else ""
            if not heading and (style.startswith("Heading") or style == "Title"):
                heading = text
    title = document.core_properties.title or heading
    return Extracted("\n".join(line for line in lines if line), title)


def _read_pptx(path: Path, budget: Budget) -> Extracted:
    """Each slide's text (titles, text boxes, tables, groups, then the speaker notes); a page is a slide."""
    from pptx import Presentation

    deck = Presentation(str(path))
    slides = []
    for slide in deck.slides:
        lines = [line for shape in slide.shapes for line in _shape_lines(shape)]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            lines += [p.strip() for p in slide.notes_slide.notes_text_frame.text.splitlines() if p.strip()]
        slides.append(budget.take("\n".join(lines)))
    joined = join_pages(slides)
    title = deck.core_properties.title or first_line(joined.text)
    return Extracted(joined.text, title, joined.starts)


def _shape_lines(shape: Any) -> list[str]:
    if getattr(shape, "shapes", None) is not None:  # a group
        return [line for child in shape.shapes for line in _shape_lines(child)]
    if getattr(shape, "has_table", False):
        return [" | ".join(c.text.strip() for c in row.cells if c.text.strip()) for row in shape.table.rows]
    if getattr(shape, "has_text_frame", False):
        return [p.strip() for p in shape.text_frame.text.splitlines() if p.strip()]
    return []


def _odf_lines(node: Any) -> list[str]:
    """An OpenDocument element's text, a line per paragraph or heading and per table row."""
    from odf import teletype

    name = getattr(node, "qname", (None, None))[1]
    if name in ("p", "h"):
        text = re.sub(r"[ \t]+", " ", teletype.extractText(node)).strip()
        return [text] if text else []
    if name == "table-row":
        cells = (" ".join(_odf_lines(cell)) for cell in node.childNodes)
        return [" | ".join(c for c in cells if c)]
    if name in ("annotation", "tracked-changes", "forms"):
        return []
    return [line for child in getattr(node, "childNodes", ()) for line in _odf_lines(child)]


def _odf_title(document: Any) -> str:
    from odf import dc, teletype

    found = document.meta.getElementsByType(dc.Title)
    return teletype.extractText(found[0]).strip() if found else ""


def _read_odt(path: Path, budget: Budget) -> Extracted:
    """An OpenDocument text (LibreOffice Writer): paragraphs, headings and table rows in order."""
    from odf import opendocument, teletype
    from odf import text as odf_text

    document = opendocument.load(str(path))
    lines = [budget.take(line) for line in _odf_lines(document.text) if line]
    headings = document.text.getElementsByType(odf_text.H)
    heading = re.sub(r"\s+", " ", teletype.extractText(headings[0])).strip() if headings else ""
    return Extracted("\n".join(lines), _odf_title(document) or heading)


def _read_odp(path: Path, budget: Budget) -> Extracted:
    """An OpenDocument presentation (LibreOffice Impress): a page per slide, its notes included."""
    from odf import draw, opendocument

    document = opendocument.load(str(path))
    slides = [budget.take("\n".join(_odf_lines(page))) for page in document.presentation.getElementsByType(draw.Page)]
    joined = join_pages(slides)
    return Extracted(joined.text, _odf_title(document) or first_line(joined.text), joined.starts)


# --- EPUB, RTF, e-mail --------------------------------------------------------------------------

_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def _read_epub(path: Path, budget: Budget) -> Extracted:
    """The chapters of an EPUB in reading order (its spine), each through the HTML reader; a chapter
    the spine lists again is read once (issue 22: a 4.4 kB book listing one chapter 20 times took
    2.7 GB)."""
    from defusedxml import ElementTree

    with zipfile.ZipFile(path) as book:
        container = ElementTree.fromstring(book.read("META-INF/container.xml"))
        rootfile = next((e.get("full-path") for e in container.iter() if e.tag.endswith("rootfile")), None)
        if not rootfile:
            raise Unreadable("not an EPUB book: META-INF/container.xml names no package file")
        package = ElementTree.fromstring(book.read(rootfile))
        base = posixpath.dirname(rootfile)
        # The navigation document (EPUB 3's table of contents) repeats the chapter titles: left out.
        items = {e.get("id"): e.get("href", "") for e in package.iter(f"{_OPF}item")
                 if "nav" not in (e.get("properties") or "").split()}
        names = set(book.namelist())
        chapters = []
        seen: set[str] = set()
        for ref in package.iter(f"{_OPF}itemref"):
            name = posixpath.normpath(posixpath.join(base, unquote(items.get(ref.get("idref"), "") or "")))
            if name in names and name not in seen:  # only the book's own files: no link out of the archive
                seen.add(name)
                chapter = html_to_text(decode_text(book.read(name), budget.limits))
                budget.take(chapter.text)
                chapters.append(chapter)
        title = next((t.text.strip() for t in package.iter(f"{_DC}title") if t.text and t.text.strip()), "")
    text = "\n\n".join(c.text for c in chapters if c.text)
    return Extracted(text, title or next((c.title for c in chapters if c.title), ""))


_RTF_TITLE = re.compile(r"{\\title\s?((?:[^{}\\]|\\[^{}])*)}")


def _read_rtf(path: Path, budget: Budget) -> Extracted:
    """Rich Text Format through striprtf (``\\'e9`` and ``\\u233?`` escapes decoded); the title from
    the ``{\\info{\\title ...}}`` group, else the first line."""
    from striprtf.striprtf import rtf_to_text

    raw = decode_text(read_capped(path, budget.limits), budget.limits)
    if not raw.lstrip().startswith("{\\rtf"):
        raise Unreadable("not an RTF file (it does not start with {\\rtf)")
    text = re.sub(r"[ \t]+\n", "\n", rtf_to_text(raw, errors="replace").replace("\r\n", "\n")).strip()
    found = _RTF_TITLE.search(raw)
    title = rtf_to_text("{\\rtf1 " + found.group(1) + "}", errors="replace").strip() if found else ""
    return Extracted(text, title or first_line(text))


def _read_eml(path: Path, budget: Budget) -> Extracted:
    """An e-mail (.eml): its subject as title and first line, who sent it and when, then the plain-text
    body, or the HTML body's visible text. Attachments are not read."""
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(read_capped(path, budget.limits))
    subject = re.sub(r"\s+", " ", str(message.get("subject") or "")).strip()
    part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = html_to_text(content).text if part.get_content_type() == "text/html" else content
    header = [f"{name}: {message[name]}" for name in ("From", "Date") if message[name]]
    text = "\n".join([subject] + header + [""] + [body.replace("\r\n", "\n").strip()]).strip()
    return Extracted(text, subject)


#: Every format amqa reads: file suffix (lower case) -> reader.
READERS: dict[str, Callable[[Path, Budget], Extracted]] = {
    ".txt": _read_plain,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".pptx": _read_pptx,
    ".xlsx": _read_xlsx,
    ".csv": _read_csv,
    ".odt": _read_odt,
    ".odp": _read_odp,
    ".epub": _read_epub,
    ".rtf": _read_rtf,
    ".eml": _read_eml,
}
