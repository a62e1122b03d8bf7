"""Uploads into a documents folder, and deletions from it: only plain, supported file names, never an
overwrite, never a file outside the folder.

The web UI goes through :func:`add_file` and :func:`remove_file` (by way of :class:`amqa.Engine`);
nothing else writes into or deletes from a documents folder.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .documents import SUPPORTED_SUFFIXES
from .errors import InvalidInputError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[\w][\w .()+-]*$", re.UNICODE)


def safe_upload_name(name: str) -> str:
    """The file name an upload may take inside the documents folder, or raise ``InvalidInputError``.

    Only a plain name is accepted: no folder part (``/``, ``\\``), no ``..``, no hidden file, and one
    of the supported suffixes.

    >>> safe_upload_name("notes de cours.md")
    'notes de cours.md'
    >>> safe_upload_name("../../evil.txt")
    Traceback (most recent call last):
    ...
    amqa.errors.InvalidInputError: refused '../../evil.txt': a file name may not contain a folder or '..'; rename it, e.g. 'evil.txt'
    """
    if "/" in name or "\\" in name or ".." in name:
        plain = re.split(r"[/\\]", name)[-1].lstrip(".") or "document.txt"
        raise InvalidInputError(f"refused '{name}': a file name may not contain a folder or '..'; rename it, e.g. '{plain}'")
    if not _SAFE_NAME.match(name) or len(name) > 200:
        raise InvalidInputError(f"refused '{name}': use a plain file name (letters, digits, spaces, . _ - ( ) +)")
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidInputError(f"refused '{name}': amqa reads {', '.join(SUPPORTED_SUFFIXES)} files")
    return name


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
