"""Fetch, check and list the real document collections amqa is evaluated on (eval/corpora/).

    python eval/collection.py list
    python eval/collection.py fetch NAME [--out DIR]     # prints the documents folder; then:
    amqa eval --set eval/NAME.jsonl --docs DIR
    python eval/collection.py check NAME [--docs DIR]    # the question set against the documents

``check`` reads the documents with amqa's own reader, so key facts are checked against the text amqa
indexes: every field is present (and no other) in order, ids are unique and of the form
``PREFIX-(fr|en)-NN`` (factoid), ``PREFIX-nm-NN`` (unanswerable: a near miss, the subject is in the
documents, the asked item is not) or ``PREFIX-ot-NN`` (off-topic); types, forms and languages are valid;
unanswerable and off-topic questions carry no source, answer or key fact; every key-fact variant
occurs in its gold file's text after ``amqa.text.normalize``; ``cross_lingual`` matches the question's
and the document's languages; and the set holds the collection's ``MIX`` (languages, cross-lingual
both ways, answer forms, near misses, off-topic). Prints a summary; exits 1 on any problem.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

EVAL = Path(__file__).resolve().parent
sys.path.insert(0, str(EVAL))
import corpora  # noqa: E402

FIELDS = ["id", "question", "language", "type", "form", "sources", "answer", "key_facts",
          "answerable", "cross_lingual"]
FORMS = ("prose", "list", "table", "code")
LANGS = ("fr", "en")


def check(name: str, docs: Path) -> int:
    from amqa.ingest.documents import load_folder
    from amqa.text import normalize

    module = corpora.get(name)
    doc_lang: dict[str, str] = module.LANGUAGES
    prefix = module.PREFIX
    id_re = {"factoid": re.compile(rf"^{prefix}-(fr|en)-\d{{2,}}$"),
             "unanswerable": re.compile(rf"^{prefix}-nm-\d{{2,}}$"),
             "off-topic": re.compile(rf"^{prefix}-ot-\d{{2,}}$")}
    errors: list[str] = []
    read, skipped = load_folder(docs) if docs.is_dir() else ([], [])
    texts = {d.source: normalize(d.text) for d in read}
    # A page that is only furniture (a stub whose content the help fills by script) reads as no text:
    # listed, and an error only when a question cites it (below, as a missing key fact).
    empty = {s.source for s in skipped if s.reason.startswith("no text")}
    errors += [f"missing document {docs / s} (run eval/collection.py fetch {name})" for s in doc_lang
               if s not in texts and s not in empty]
    if empty & set(doc_lang):
        print(f"read as no text (page furniture only): {', '.join(sorted(empty & set(doc_lang)))}")

    rows = []
    for n, line in enumerate(Path(module.SET).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: invalid JSON ({e})")
    ids = Counter(str(r.get("id")) for r in rows)
    errors += [f"duplicate id {i} ({k} times)" for i, k in ids.items() if k > 1]
    counts: Counter[str] = Counter()
    for r in rows:
        rid = r.get("id", "?")
        if list(r) != FIELDS:
            errors.append(f"{rid}: fields {list(r)}, want {FIELDS} in this order")
            continue
        kind, lang, form = r["type"], r["language"], r["form"]
        if kind not in id_re:
            errors.append(f"{rid}: unknown type {kind!r}")
            continue
        if not id_re[kind].match(rid):
            errors.append(f"{rid}: id does not fit type {kind} (prefix {prefix})")
        if lang not in LANGS:
            errors.append(f"{rid}: language {lang!r}")
            continue
        if kind == "factoid" and rid.split("-")[1] != lang:
            errors.append(f"{rid}: id language differs from language {lang}")
        if not isinstance(r["question"], str) or not r["question"].strip():
            errors.append(f"{rid}: empty question")
        if not isinstance(r["key_facts"], list) or not all(
                isinstance(f, list) and f and all(isinstance(v, str) and v.strip() for v in f) for f in r["key_facts"]):
            errors.append(f"{rid}: key_facts must be a list of non-empty lists of strings")
            continue
        if kind == "factoid":
            if r["answerable"] is not True:
                errors.append(f"{rid}: a factoid must be answerable")
            if form not in FORMS:
                errors.append(f"{rid}: form {form!r} not in {FORMS}")
            if not r["sources"] or any(s not in doc_lang for s in r["sources"]):
                errors.append(f"{rid}: sources must be known files, got {r['sources']}")
                continue
            if not r["answer"].strip():
                errors.append(f"{rid}: empty answer")
            if not 1 <= len(r["key_facts"]) <= 4:
                errors.append(f"{rid}: {len(r['key_facts'])} key facts (want 1 to 4)")
            gold_langs = {doc_lang[s] for s in r["sources"]}
            if len(gold_langs) != 1:
                errors.append(f"{rid}: gold files in several languages {sorted(gold_langs)}")
                continue
            gold = gold_langs.pop()
            cross = lang != gold
            if r["cross_lingual"] is not cross:
                errors.append(f"{rid}: cross_lingual={r['cross_lingual']} but question {lang}, documents {gold}")
            joined = " ".join(texts.get(s, "") for s in r["sources"])
            if all(s in texts or s in empty for s in r["sources"]):
                for fact in r["key_facts"]:
                    for variant in fact:
                        if normalize(variant) not in joined:
                            errors.append(f"{rid}: key fact {variant!r} not in {', '.join(r['sources'])}")
            counts[f"{gold} documents, asked in {lang}" + (" (cross-lingual)" if cross else "")] += 1
            counts[f"form {form}"] += 1
        else:
            if r["answerable"] is not False or r["cross_lingual"] is not False:
                errors.append(f"{rid}: {kind} must have answerable and cross_lingual false")
            if form != "" or r["sources"] != [] or r["answer"] != "" or r["key_facts"] != []:
                errors.append(f"{rid}: {kind} needs empty form, sources, answer and key_facts")
            counts[f"{kind}, {lang}"] += 1
        counts["total"] += 1

    mix: dict[str, int] = module.MIX
    print(f"{name}: {module.SET.name} over {docs}")
    print(f"{'group':46s} {'count':>5s} {'min':>5s}")
    for label in list(mix) + sorted(set(counts) - set(mix)):
        have, want = counts.get(label, 0), mix.get(label)
        print(f"{label:46s} {have:5d} {'' if want is None else want:>5}" + ("  <-- too few" if want and have < want else ""))
        if want is not None and have < want:
            errors.append(f"{label}: {have} < {want}")
    by_src = Counter(s for r in rows for s in r.get("sources", []))
    print(f"gold files: {len(by_src)} of {len(doc_lang)}; most asked: "
          + ", ".join(f"{k} {v}" for k, v in by_src.most_common(5)))
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  - " + e)
        return 1
    print("\nOK")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    f = sub.add_parser("fetch")
    f.add_argument("name")
    f.add_argument("--out", type=Path, help="documents folder to write (default: <amqa home>/collections/NAME/docs)")
    c = sub.add_parser("check")
    c.add_argument("name")
    c.add_argument("--docs", type=Path, help="its documents folder (default: fetched)")
    args = parser.parse_args()
    if args.command == "list":
        for name in corpora.NAMES:
            m = corpora.get(name)
            print(f"{name:14s} {m.SET.name:24s} {len(m.LANGUAGES):4d} files  {(m.__doc__ or '').splitlines()[0]}")
        return 0
    if args.command == "fetch":
        print(corpora.fetch(args.name, args.out))
        return 0
    return check(args.name, args.docs or corpora.fetch(args.name))


if __name__ == "__main__":
    sys.exit(main())
