"""Check eval/debian.jsonl, the question set over the Debian Reference documents.

    python eval/check_debian_set.py [DOCS_DIR]

DOCS_DIR is the Debian Reference folder (default: the one eval/debian_reference.py lays out); its
files are read with amqa's own reader, so key facts are checked against the text amqa indexes. Checks: every field is present (and no other), ids are unique and
well formed, types/forms/languages are valid, unanswerable and off-topic questions carry no
source, answer or key fact, every key-fact variant occurs in its gold file's text after
``amqa.text.normalize``, ``cross_lingual`` matches the question and document languages, and the
mix of questions asked for (languages, cross-lingual both ways, answer forms, near misses,
off-topic). Prints a summary and exits 1 on any failure.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
try:
    from amqa.text import normalize
except ImportError:  # running without the package installed
    sys.path.insert(0, str(ROOT / "src"))
    from amqa.text import normalize

SET = ROOT / "eval" / "debian.jsonl"
FIELDS = ["id", "question", "language", "type", "form", "sources", "answer", "key_facts",
          "answerable", "cross_lingual"]
PDF = "debian-reference.fr.ch01-06.pdf"
HTML = [f"ch{n:02d}.en.html" for n in range(7, 13)]
DOC_LANG = {PDF: "fr", **{name: "en" for name in HTML}}
FORMS = ("prose", "list", "table", "code")
ID_RE = {"factoid": re.compile(r"^dr-(fr|en)-\d{2,}$"),
         "unanswerable": re.compile(r"^dr-nm-\d{2,}$"),
         "off-topic": re.compile(r"^dr-ot-\d{2,}$")}

# minimum counts: (label, minimum)
MIX = {
    "PDF, asked in French": 14,
    "PDF, asked in English (cross-lingual)": 14,
    "HTML, asked in English": 14,
    "HTML, asked in French (cross-lingual)": 14,
    "unanswerable, French": 5,
    "unanswerable, English": 5,
    "off-topic, French": 3,
    "off-topic, English": 3,
    **{f"form {form}": 8 for form in FORMS},
    "total": 72,
}


def main(argv: list[str]) -> int:
    from amqa.ingest.documents import load_folder

    sys.path.insert(0, str(ROOT / "eval"))
    from debian_reference import default_out

    docs_dir = Path(argv[1]) if len(argv) > 1 else default_out()
    errors: list[str] = []
    texts = {d.source: normalize(d.text) for d in load_folder(docs_dir)[0]} if docs_dir.is_dir() else {}
    errors += [f"missing document {docs_dir / name} (run eval/debian_reference.py)" for name in DOC_LANG
               if name not in texts]

    rows = []
    for n, line in enumerate(SET.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON ({e})")

    counts: Counter[str] = Counter()
    ids: Counter[str] = Counter(str(r.get("id")) for r in rows)
    errors += [f"duplicate id {i} ({k} times)" for i, k in ids.items() if k > 1]

    for r in rows:
        rid = r.get("id", "?")
        if list(r) != FIELDS:
            missing = [f for f in FIELDS if f not in r]
            extra = [f for f in r if f not in FIELDS]
            if missing or extra:
                errors.append(f"{rid}: missing fields {missing}, extra fields {extra}")
                continue
        kind, lang, form = r["type"], r["language"], r["form"]
        if kind not in ID_RE:
            errors.append(f"{rid}: unknown type {kind!r}")
            continue
        if not ID_RE[kind].match(rid):
            errors.append(f"{rid}: id does not fit type {kind}")
        if lang not in ("fr", "en"):
            errors.append(f"{rid}: language {lang!r}")
        if kind == "factoid" and rid.split("-")[1] != lang:
            errors.append(f"{rid}: id language differs from language {lang}")
        if not isinstance(r["question"], str) or not r["question"].strip():
            errors.append(f"{rid}: empty question")
        if not isinstance(r["key_facts"], list) or not all(
                isinstance(f, list) and f and all(isinstance(v, str) and v.strip() for v in f)
                for f in r["key_facts"]):
            errors.append(f"{rid}: key_facts must be a list of non-empty lists of strings")
            continue

        if kind == "factoid":
            if r["answerable"] is not True:
                errors.append(f"{rid}: factoid must be answerable")
            if form not in FORMS:
                errors.append(f"{rid}: form {form!r} not in {FORMS}")
            if len(r["sources"]) != 1 or r["sources"][0] not in DOC_LANG:
                errors.append(f"{rid}: sources must be one known file, got {r['sources']}")
                continue
            if not r["answer"].strip():
                errors.append(f"{rid}: empty answer")
            if not 1 <= len(r["key_facts"]) <= 2:
                errors.append(f"{rid}: {len(r['key_facts'])} key facts (want 1 or 2)")
            src = r["sources"][0]
            cross = lang != DOC_LANG[src]
            if r["cross_lingual"] is not cross:
                errors.append(f"{rid}: cross_lingual={r['cross_lingual']} but question {lang}, "
                              f"document {DOC_LANG[src]}")
            text = texts.get(src)
            if text is not None:
                for fact in r["key_facts"]:
                    for variant in fact:
                        if normalize(variant) not in text:
                            errors.append(f"{rid}: key fact {variant!r} not in {src}")
            doc = "PDF" if src == PDF else "HTML"
            asked = "French" if lang == "fr" else "English"
            label = f"{doc}, asked in {asked}" + (" (cross-lingual)" if cross else "")
            counts[label] += 1
            counts[f"form {form}"] += 1
        else:
            if r["answerable"] is not False:
                errors.append(f"{rid}: {kind} must not be answerable")
            if r["cross_lingual"] is not False:
                errors.append(f"{rid}: {kind} must have cross_lingual false")
            if form != "" or r["sources"] != [] or r["answer"] != "" or r["key_facts"] != []:
                errors.append(f"{rid}: {kind} needs empty form, sources, answer and key_facts")
            counts[f"{kind}, {'French' if lang == 'fr' else 'English'}"] += 1
        counts["total"] += 1

    print(f"{'group':42s} {'count':>5s} {'min':>5s}")
    for label in list(MIX) + sorted(set(counts) - set(MIX)):
        have, want = counts.get(label, 0), MIX.get(label)
        flag = "" if want is None or have >= want else "  <-- too few"
        print(f"{label:42s} {have:5d} {'' if want is None else want:>5}{flag}")
        if want is not None and have < want:
            errors.append(f"{label}: {have} < {want}")
    by_lang = Counter(r.get("language") for r in rows)
    print(f"{'questions in French / English':42s} {by_lang['fr']:>2d} / {by_lang['en']}")
    by_src = Counter(r["sources"][0] for r in rows if r.get("sources"))
    print("gold files: " + ", ".join(f"{k} {v}" for k, v in sorted(by_src.items())))

    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  - " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
