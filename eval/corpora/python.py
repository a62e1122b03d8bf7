"""Python 3.11's tutorial (all 17 pages) and the three library pages it sends readers to, as English Sphinx HTML.

From Debian's ``python3.11-doc`` (``python3-doc`` depends on it): ``usr/share/doc/python3.11/html``. The
pages are copied unchanged, HTML kept as HTML (Sphinx's page header, "previous/next" navigation, the
"© Copyright" footer and the tables of contents stay in them: they are part of what issue 24 measures):

- ``tutorial/*.html``: "The Python Tutorial", chapters 1-16 and its index page (about 253 KB of text);
- ``library/string.html``: the format string syntax and format specification mini-language the tutorial's
  chapter 7 ("Input and Output") points to (tables of alignment, sign and presentation types);
- ``library/json.html``: the json module of the same chapter's section 7.2.2 (Python/JSON conversion tables);
- ``library/venv.html``: the venv module behind chapter 12 ("Virtual Environments and Packages"; a table
  of the activation commands per platform and shell).

The tutorial is a coherent whole with prose, lists and code; the tutorial itself has no table, so the three
library pages it links to bring the tables. About 334 KB of text as amqa reads it (the first index takes
a few minutes on 2 cores). All pages are English: the set asks in English and, cross-lingually, in French.
"""
from __future__ import annotations

import shutil
from pathlib import Path

PACKAGES = ("python3.11-doc",)
HTML = Path("usr/share/doc/python3.11/html")
TUTORIAL = ["index", "appetite", "interpreter", "introduction", "controlflow", "datastructures", "modules",
            "inputoutput", "errors", "classes", "stdlib", "stdlib2", "venv", "whatnow", "interactive",
            "floatingpoint", "appendix"]
LIBRARY = ["string", "json", "venv"]
FILES = [f"tutorial/{n}.html" for n in TUTORIAL] + [f"library/{n}.html" for n in LIBRARY]

SET = Path(__file__).resolve().parent.parent / "python.jsonl"
PREFIX = "py"
LANGUAGES = {name: "en" for name in FILES}
MIX = {
    "en documents, asked in en": 20,
    "en documents, asked in fr (cross-lingual)": 20,
    "unanswerable, fr": 4,
    "unanswerable, en": 4,
    "off-topic, fr": 2,
    "off-topic, en": 2,
    **{f"form {form}": 6 for form in ("prose", "list", "table", "code")},
    "total": 60,
}


def lay_out(tree: Path, out: Path) -> None:
    for name in FILES:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / HTML / name, target)
