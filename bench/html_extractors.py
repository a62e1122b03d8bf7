"""Main-content extractors on the HTML collections, side by side (issue 24, item 3; prints numbers).

    python bench/html_extractors.py [--collections python libreoffice debian] [--only NAME ...]

For each HTML page of each collection (``eval/corpora``; fetched by ``python eval/collection.py fetch
NAME``), each extractor gives the text that would be indexed: amqa's own reader (the one on
``PYTHONPATH``: ``amqa``; and its ``HtmlReading`` variants when that reader has them),
trafilatura (``extract``, tables kept; and with ``favor_recall``), readability-lxml (the summary's HTML
read by amqa's reader, so tables and lists keep amqa's layout) and justext (paragraphs not classed as
boilerplate, with the collection's stop list). Printed per collection and extractor:

- ``s/page``: mean seconds to extract one page;
- ``chars``: characters kept, over all pages;
- ``variants lost``: key-fact variants of the collection's set (factoid questions whose gold files are
  all HTML) that no longer occur, after ``amqa.text.normalize``, in the text of their gold files (the
  check ``eval/collection.py check`` makes with amqa's reader), and the questions with one lost;
- ``furniture``: lines (stripped, 3 characters or more) that occur on at least 30% of the collection's
  pages (navigation, footers), how many distinct ones and their characters over all pages.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
import corpora  # noqa: E402

#: justext's stop list per collection language.
STOPLISTS = {"en": "English", "fr": "French"}
#: A line on this share of a collection's pages or more counts as furniture.
REPEATED = 0.3


def amqa_reader(raw: str, lang: str) -> str:
    from amqa.ingest.readers import html_to_text

    return html_to_text(raw).text


def amqa_variant(**options: bool | float) -> Callable[[str, str], str]:
    def read(raw: str, lang: str) -> str:
        from amqa.ingest.readers import HtmlReading, html_to_text  # type: ignore[attr-defined]

        return html_to_text(raw, HtmlReading(**options)).text  # type: ignore[call-arg]
    return read


def trafilatura_reader(recall: bool) -> Callable[[str, str], str]:
    def read(raw: str, lang: str) -> str:
        import trafilatura

        return trafilatura.extract(raw, include_tables=True, include_comments=False, favor_recall=recall,
                                   deduplicate=False) or ""
    return read


def readability_reader(raw: str, lang: str) -> str:
    from readability import Document

    from amqa.ingest.readers import html_to_text

    return html_to_text(Document(raw).summary(html_partial=True)).text


def justext_reader(raw: str, lang: str) -> str:
    import justext

    paragraphs = justext.justext(raw.encode("utf-8"), justext.get_stoplist(STOPLISTS[lang]), encoding="utf-8")
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def extractors() -> dict[str, Callable[[str, str], str]]:
    found: dict[str, Callable[[str, str], str]] = {"amqa": amqa_reader}
    try:
        from amqa.ingest.readers import HtmlReading  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        pass
    else:
        found.update({
            "amqa-plain": amqa_variant(main_only=False, landmarks=False, hidden=False, link_density=1.1),
            "amqa-landmarks": amqa_variant(main_only=False, hidden=False, link_density=1.1),
            "amqa-+hidden": amqa_variant(main_only=False, link_density=1.1),
            "amqa-+main": amqa_variant(link_density=1.1),
            "amqa-+links": amqa_variant(),
            "amqa-+hidden-attr": amqa_variant(hidden_attribute=True),
        })
    found.update({"trafilatura": trafilatura_reader(False), "trafilatura-recall": trafilatura_reader(True),
                  "readability": readability_reader, "justext": justext_reader})
    return found


def bench(name: str, only: list[str] | None) -> None:
    from amqa.ingest.readers import decode_text
    from amqa.text import normalize

    module = corpora.get(name)
    docs = corpora.fetch(name)
    pages = {s: decode_text((docs / s).read_bytes()) for s in module.LANGUAGES if s.endswith((".html", ".htm"))}
    rows = [json.loads(line) for line in Path(module.SET).read_text(encoding="utf-8").splitlines() if line.strip()]
    asked = [r for r in rows if r["type"] == "factoid" and r["sources"] and all(s in pages for s in r["sources"])]
    total = sum(len(fact) for r in asked for fact in r["key_facts"])
    print(f"\n{name}: {len(pages)} HTML pages, {len(asked)} factoid questions on them, {total} key-fact variants")
    print(f"{'extractor':20s} {'s/page':>8s} {'chars':>9s} {'variants lost':>13s} {'questions':>9s} "
          f"{'furniture lines':>15s} {'their chars':>11s}")
    for label, read in extractors().items():
        if only and label not in only:
            continue
        texts: dict[str, str] = {}
        start = time.perf_counter()
        try:
            for source, raw in pages.items():
                texts[source] = read(raw, module.LANGUAGES[source])
        except ImportError as exc:  # the libraries compared are not amqa's dependencies
            print(f"{label:20s} skipped: {exc.name} is not installed "
                  "(pip install trafilatura readability-lxml justext)")
            continue
        seconds = (time.perf_counter() - start) / max(len(pages), 1)
        normal = {s: normalize(t) for s, t in texts.items()}
        lost = 0
        hurt = 0
        for r in asked:
            joined = " ".join(normal[s] for s in r["sources"])
            missing = sum(normalize(v) not in joined for fact in r["key_facts"] for v in fact)
            lost += missing
            hurt += missing > 0
        lines_per_page = [set(line.strip() for line in t.splitlines() if len(line.strip()) >= 3) for t in texts.values()]
        on = Counter(line for lines in lines_per_page for line in lines)
        repeated = {line for line, n in on.items() if n >= REPEATED * len(pages) and len(pages) > 2}
        furniture = sum(len(line.strip()) for t in texts.values() for line in t.splitlines() if line.strip() in repeated)
        print(f"{label:20s} {seconds:8.4f} {sum(map(len, texts.values())):9,d} {lost:6d} of {total:<4d} {hurt:9d} "
              f"{len(repeated):15d} {furniture:11,d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", nargs="+", default=["python", "libreoffice", "debian"])
    parser.add_argument("--only", nargs="+", help="extractors to run (default: all)")
    args = parser.parse_args()
    for name in args.collections:
        bench(name, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
