"""Uploads into a documents folder, and deletions from it: only plain, supported file names, never an
overwrite, never a file outside the folder.

The web UI goes through :func:`add_file` and :func:`remove_file` (by way of :class:`amqa.Engine`);
nothing else writes into or deletes from a documents folder.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from amqa.errors import InvalidInputError
from amqa.ingest.documents import SUPPORTED_SUFFIXES

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_NAME_CHARS = 200
_SAFE_NAME = re.compile(r"^[\w][\w .()+-]*$", re.UNICODE)
_LAST_PART = re.compile(r"[/\\]")
_UNSAFE_RUN = re.compile(r"[^\w .()+-]+")  # the complement of _SAFE_NAME's characters
_DOTS = re.compile(r"\.{2,}")
_NOT_WORD_START = re.compile(r"^\W+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")  # and bidi marks


def safe_upload_name(name: str) -> str:
    """The file name an upload may take inside the documents folder, or raise ``InvalidInputError``.

    Only a plain name is accepted: no folder part (``/``, ``\\``), no ``..``, no hidden file, and one
    of the supported suffixes. A refusal names a file name this same check accepts
    (:func:`suggested_name`), when the type is one amqa reads.

    >>> safe_upload_name("notes de cours.md")
    'notes de cours.md'
    >>> safe_upload_name("../../evil.txt")
    Traceback (most recent call last):
    ...
    amqa.errors.InvalidInputError: refused '../../evil.txt': a file name may not contain a folder or '..'; rename it, e.g. 'evil.txt'
    """
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidInputError(f"refused {_shown(name)}: a file name may not contain a folder or '..'; "
                                + _advice(name))
    if not _SAFE_NAME.match(name) or len(name) > MAX_NAME_CHARS:
        raise InvalidInputError(f"refused {_shown(name)}: use a plain file name (letters, digits, spaces, "
                                f". _ - ( ) +, at most {MAX_NAME_CHARS} characters); " + _advice(name))
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidInputError(f"refused {_shown(name)}: amqa reads {', '.join(SUPPORTED_SUFFIXES)} files")
    return name


def suggested_name(name: str) -> str | None:
    """A name :func:`safe_upload_name` accepts, made from the refused ``name``: its last path part (after
    decoding ``%2f``-style escapes), each run of other characters turned into ``-``, no ``..``, starting
    with a letter or digit, cut to size; ``None`` when its type is not one amqa reads (renaming a
    program ``.txt`` is no advice to give).

    >>> suggested_name("a..b.txt"), suggested_name("..%2f..%2fevil.txt"), suggested_name(".env.md")
    ('a.b.txt', 'evil.txt', 'env.md')
    """
    plain = _LAST_PART.split(unquote(name))[-1]
    suffix = Path(plain).suffix
    if suffix.lower() not in SUPPORTED_SUFFIXES:
        return None
    stem = _UNSAFE_RUN.sub("-", plain[:-len(suffix)])
    stem = _DOTS.sub(".", stem)
    stem = _NOT_WORD_START.sub("", stem)[:MAX_NAME_CHARS - len(suffix)].rstrip(". ")  # 'a.' + '.txt' is 'a..txt'
    candidate = (stem or "document") + suffix
    # belt and braces: the steps above make a name the check accepts (not by calling it: it advises)
    return candidate if _accepted(candidate) else "document" + suffix.lower()


def _accepted(name: str) -> bool:
    """What :func:`safe_upload_name` accepts, as a yes or no."""
    return ("/" not in name and "\\" not in name and ".." not in name and bool(_SAFE_NAME.match(name))
            and len(name) <= MAX_NAME_CHARS and Path(name).suffix.lower() in SUPPORTED_SUFFIXES)


def _advice(name: str) -> str:
    suggestion = suggested_name(name)
    if suggestion is None:
        return f"rename it to a plain name (amqa reads {', '.join(SUPPORTED_SUFFIXES)} files)"
    return f"rename it, e.g. '{suggestion}'"


def _shown(name: str) -> str:
    """The name quoted on one line: control and bidi characters as ``\\xNN``/``\\uNNNN``, a long name cut."""
    shown = _CONTROL.sub(lambda m: repr(m.group())[1:-1], name)
    return f"'{shown if len(shown) <= 120 else shown[:119] + '…'}'"


def add_file(folder: str | os.PathLike, data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Copy an uploaded file into ``folder`` under a safe name; never overwrites (adds ``-2``, ``-3``...).

    Raises ``InvalidInputError`` for an unsafe name, an unsupported type or a file over ``max_bytes``.
    """
    name = safe_upload_name(name)
    if len(data) > max_bytes:
        raise InvalidInputError(f"refused '{name}': {len(data) / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
    if not data.strip():
        raise InvalidInputError(f"refused '{name}': the file is empty")
    root = Path(folder).resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    target = root / name
    n = 2
    while target.exists():
        target = root / f"{stem}-{n}{suffix}"
        n += 1
    if target.resolve().parent != root:  # belt and braces: the name was checked above
        raise InvalidInputError(f"refused '{name}': it would land outside the documents folder")
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def remove_file(folder: str | os.PathLike, path: str | os.PathLike) -> None:
    """Delete the document ``path``, which must be a file inside ``folder`` (a link is removed, never
    its target); raise ``InvalidInputError`` otherwise or when it is already gone."""
    root = Path(folder).resolve()
    target = Path(path)
    parent = target.parent.resolve()
    if not (parent == root or parent.is_relative_to(root)):
        raise InvalidInputError(f"refused to delete '{target.name}': it is outside the documents folder")
    target = parent / target.name
    if not target.is_file() and not target.is_symlink():
        raise InvalidInputError(f"'{target.relative_to(root).as_posix()}' is no longer in the documents folder")
    target.unlink()
