"""Reading hostile and large files (issue 22, cases 2, 3, 11, 18): time and peak memory (prints numbers).

    python bench/readers.py [--only NAME ...] [--timeout S] [--index]

Each file is read by ``amqa.ingest.documents.read_document`` in a fresh process under ``ulimit -v 4000000``
(4 GB of address space) and a timeout, so that a bomb cannot eat the machine; the child reports its
time, its peak RSS and how much of it the read added (peak minus the RSS after the imports), and the
outcome (characters of text, or the skip reason). ``--index`` also indexes each file alone with the
hash embedder (``update_index``), where the 40 MB text file cost 68 times its text (issue 22).

The bombs are written as tests/make_files.py writes them (a file by its library, one part inflated),
sized to the issue's compressed sizes (52 kB .docx, 22 kB .odt, 38 kB .pptx, 4.4 kB .epub listing
its chapter 20 times); the legitimate large files show what the limits of ``amqa.ingest.readers.ReadLimits``
let through, with the largest part and compression ratio of each. Run it against another checkout
with ``PYTHONPATH=/path/to/src``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WORDS = ("campus atelier usinage fonderie apprentis robot alliage métal école ingénieur soudure laboratoire "
         "recherche formation étudiants enseignant projet conseil bibliothèque Cluny Angers Metz Lille Bordeaux "
         "the of and engineering students research library council workshop").split()


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_files(folder: Path) -> dict[str, Path]:
    import make_files as m

    rng = random.Random(0)
    files: dict[str, Path] = {}

    def add(name: str) -> Path:
        files[name] = folder / name
        return files[name]

    # Bombs, sized so that their compressed size is the issue's.
    m.write_docx_bomb(add("bomb-52kB.docx"), 17)
    m.write_odt_bomb(add("bomb-22kB.odt"), 8.5)
    m.write_pptx_bomb(add("bomb-38kB.pptx"), 12.5)
    m.write_xlsx_bomb(add("bomb.xlsx"), 17)
    m.write_epub_listing_twice(add("bomb-chapter-20-times.epub"), 20, 1.7)
    m.write_lying_bzip2_docx(add("bzip2-lying-size.docx"), 200)
    # A 40 MB text file (case 11), random bytes named .txt without NUL (case 18), an unclosed front
    # matter of 270 kB full of title: lines (case 2), 1 MB of dots (a sentence boundary per dot).
    lines, size = [], 0
    while size < 40_000_000:
        lines.append(_prose(rng, 15))
        size += len(lines[-1]) + 1
    add("text-40MB.txt").write_text("\n".join(lines), encoding="utf-8")
    noise = bytearray(rng.randbytes(1_000_000))
    add("random-1MB.txt").write_bytes(bytes(noise).replace(b"\x00", b"\x01"))
    add("front-matter-270kB.md").write_text("---\n" + "title: x\n" * 30_000, encoding="utf-8")
    add("dots-1MB.txt").write_text("Début. " + "." * 1_000_000 + "Fin.", encoding="utf-8")  # no space after the dots
    # Legitimate large documents: what the limits must let through.
    import docx
    import openpyxl
    from odf import text as odf_text
    from odf.opendocument import OpenDocumentText

    document = docx.Document()
    for i in range(10_000):  # 500,000 words: some 1,000 pages
        if i % 200 == 0:
            document.add_heading(f"Chapitre {i // 200 + 1}", level=1)
        document.add_paragraph(_prose(rng, 50))
    document.save(str(add("legit-1000-pages.docx")))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Mesures")
    sheet.append(["campus", "ville", "année", "places", "budget"])
    for i in range(100_000):  # the most regular table: the same few rows again and again
        sheet.append(["Campus de Cluny", "Cluny", 2020 + i % 5, 48, 180000])
    book.save(str(add("legit-100k-rows.xlsx")))
    odt = OpenDocumentText()
    for _ in range(20_000):
        odt.text.addElement(odf_text.P(text=_prose(rng, 50)))
    odt.save(str(add("legit-20k-paragraphs.odt")))
    return files


def zip_summary(path: Path) -> str:
    if not zipfile.is_zipfile(path):
        return ""
    with zipfile.ZipFile(path) as z:
        part = max(z.infolist(), key=lambda i: i.file_size)
        total = sum(i.file_size for i in z.infolist())
    return (f"; largest part {part.filename} {part.file_size / 2**20:.1f} MB declared, "
            f"ratio {part.file_size / max(part.compress_size, 1):.0f}, all parts {total / 2**20:.1f} MB")


CHILD = r"""
import json, shutil, sys, time, tempfile
from pathlib import Path
from amqa.ingest.documents import SourceFile, read_document, Skipped
path, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "index":
    from amqa.index.local.store import update_index
def rss():  # the peak RSS of this process since its exec (ru_maxrss would count the forking parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
base = rss()
t0 = time.perf_counter()
try:
    if mode == "read":
        doc = read_document(SourceFile(path.name, path, "0"))
        out = f"skipped: {doc.reason}" if isinstance(doc, Skipped) else f"read: {len(doc.text):,} characters"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            docs = Path(tmp) / "docs"
            docs.mkdir()
            shutil.copyfile(path, docs / path.name)
            report = update_index(docs, Path(tmp) / "store", "hash")
            out = f"indexed {len(report.added)}, skipped {[s.reason for s in report.skipped]}"
except MemoryError:
    out = "MemoryError (over the 4 GB ulimit)"
print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": rss(), "added_mb": rss() - base, "out": out}))
"""


def _ulimit() -> None:  # in the child: `ulimit -v 4000000` (KiB of address space)
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4_000_000 * 1024, 4_000_000 * 1024))


def run_one(path: Path, mode: str, timeout: float) -> str:
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=_ulimit)
    except subprocess.TimeoutExpired:
        return f"over the {timeout:.0f} s timeout (killed)"
    if done.returncode != 0 or not done.stdout.strip():
        return f"failed in {time.perf_counter() - t0:.1f} s, rc {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    r = json.loads(done.stdout.strip().splitlines()[-1])
    out = r["out"] if len(r["out"]) < 170 else r["out"][:170] + "..."
    return f"{r['seconds']:.2f} s, peak RSS {r['peak_mb']:.0f} MB (+{r['added_mb']:.0f} MB by the read); {out}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="names (or parts of names) of the files to read")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--index", action="store_true", help="also index each file alone (hash embedder)")
    args = parser.parse_args()
    import amqa

    print(f"amqa from {Path(amqa.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        files = make_files(Path(tmp))
        print(f"files written in {time.perf_counter() - t0:.0f} s")
        for name, path in files.items():
            if args.only and not any(o in name for o in args.only):
                continue
            print(f"{name} ({path.stat().st_size / 1000:,.1f} kB{zip_summary(path)})")
            print(f"  read:  {run_one(path, 'read', args.timeout)}")
            if args.index:
                print(f"  index: {run_one(path, 'index', args.timeout)}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
