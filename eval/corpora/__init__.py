"""Real document collections for evaluation, each laid out from Debian packages nobody on the project wrote.

A collection is one module here with:

- ``PACKAGES``: the Debian packages it is made from (``apt-get download``, then ``dpkg-deb -x``; no root);
- ``lay_out(tree, out)``: writes the documents folder ``out`` from the unpacked packages in ``tree``;
- ``LANGUAGES``: each document's language, ``{source: "fr" | "en"}`` (every gold file of the set is one);
- ``SET``: its question set (a JSONL file of eval/), ``PREFIX``: its questions' id prefix;
- ``MIX``: the least count of each kind of question the set must hold (see eval/collection.py check).

and one line in :data:`NAMES`. ``python eval/collection.py fetch NAME`` prints the folder to pass to
``amqa eval --docs``; ``python eval/collection.py check NAME`` checks the set against the documents.
"""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

#: The collections, in the order tables list them.
NAMES = [
    "debian",
    "python",
    "libreoffice",
    "manpages",
]


def get(name: str) -> ModuleType:
    if name not in NAMES:
        sys.exit(f"unknown collection {name!r}: choose one of {', '.join(NAMES)}")
    return importlib.import_module(f"corpora.{name}")


def home() -> Path:
    from amqa.settings import Settings

    return Path(Settings.from_env().home) / "collections"


def unpack(packages: tuple[str, ...], work: Path) -> Path:
    """Download the packages' .deb files into ``work/debs`` (once) and unpack them into ``work/tree``."""
    debs, tree = work / "debs", work / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        r = subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"apt-get download {' '.join(missing)} failed: {r.stderr.strip()[-300:]}\n"
                     f"Run `apt-get update` first (as root), or put the .deb files into {debs}")
    done = tree / ".unpacked"
    if not done.is_file() or done.read_text() != " ".join(sorted(p.name for p in debs.glob("*.deb"))):
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        done.write_text(" ".join(sorted(p.name for p in debs.glob("*.deb"))))
    return tree


def fetch(name: str, out: Path | None = None) -> Path:
    """The documents folder of collection ``name``, laid out once (default: under amqa's home)."""
    module = get(name)
    out = out or home() / name / "docs"
    if not (out / ".complete").is_file():
        tree = unpack(tuple(module.PACKAGES), out.parent / "download")
        module.lay_out(tree, out)
        (out / ".complete").write_text("")
    return out
