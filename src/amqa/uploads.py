"""Uploads into a documents folder: only plain, supported file names, never an overwrite.

The web UI's upload handler goes through :func:`add_file`; nothing else writes into a documents folder.
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
