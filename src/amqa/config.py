"""Where amqa finds documents and keeps indexes.

- documents: ``--docs``, else ``AMQA_DOCS``, else the project's ``seeds/``;
- index store: ``--store``, else ``AMQA_STORE``, else the project's ``vector_store/`` for the seeds,
  and ``$AMQA_HOME/stores/<folder>-<hash>/`` for any other documents folder;
- ``AMQA_HOME`` defaults to ``$XDG_CACHE_HOME/amqa`` (``~/.cache/amqa``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import InvalidInputError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEEDS = PROJECT_ROOT / "seeds"
SEEDS_STORE = PROJECT_ROOT / "vector_store"

DEFAULT_K = 5
MAX_K = 50
MAX_QUESTION_CHARS = 1000


def amqa_home() -> Path:
    home = os.environ.get("AMQA_HOME")
    if home:
        return Path(home)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "amqa"


def resolve_docs(docs: str | os.PathLike | None) -> Path:
    chosen = docs or os.environ.get("AMQA_DOCS")
    if chosen:
        path = Path(chosen).expanduser()
    elif SEEDS.is_dir():
        path = SEEDS
    else:
        raise InvalidInputError(
            "no documents folder: pass --docs DIR (or docs=... in Python, or set AMQA_DOCS)"
        )
    if not path.is_dir():
        raise InvalidInputError(f"documents folder not found: '{chosen}'. Pass an existing folder with --docs DIR.")
    return path.resolve()


def resolve_store(store: str | os.PathLike | None, docs: Path) -> Path:
    chosen = store or os.environ.get("AMQA_STORE")
    if chosen:
        return Path(chosen).expanduser().resolve()
    if docs == SEEDS.resolve():
        return SEEDS_STORE
    digest = hashlib.sha256(str(docs).encode()).hexdigest()[:8]
    return amqa_home() / "stores" / f"{docs.name or 'docs'}-{digest}"


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be an integer between 1 and {MAX_K}. Currently, k is {k!r}")
    return k
