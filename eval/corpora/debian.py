"""The Debian Reference: chapters 1-6 as the French PDF, chapters 7-12 as the English HTML pages
(eval/debian_reference.py lays them out; eval/debian.jsonl asks about them)."""
from __future__ import annotations

import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EVAL))
import debian_reference  # noqa: E402

PACKAGES = debian_reference.PACKAGES
SET = EVAL / "debian.jsonl"
PREFIX = "dr"
LANGUAGES = {debian_reference.PDF_NAME: "fr", **{name: "en" for name in debian_reference.HTML_CHAPTERS}}
MIX = {
    "fr documents, asked in fr": 14,
    "fr documents, asked in en (cross-lingual)": 14,
    "en documents, asked in en": 14,
    "en documents, asked in fr (cross-lingual)": 14,
    "unanswerable, fr": 5,
    "unanswerable, en": 5,
    "off-topic, fr": 3,
    "off-topic, en": 3,
    **{f"form {form}": 8 for form in ("prose", "list", "table", "code")},
    "total": 72,
}


def lay_out(tree: Path, out: Path) -> None:
    debian_reference.lay_out(tree / debian_reference.SHARE, out)
