"""Fetch the Debian Reference and lay out the documents folder of eval/debian.jsonl.

    python eval/debian_reference.py [--out DIR]          # prints the folder; then:
    amqa eval --set eval/debian.jsonl --docs DIR

Real documents nobody on the project wrote, from Debian's packages (`apt-get download`, then
`dpkg-deb -x`; no root needed): each chapter in exactly one language, so that every question has one
gold file and cross-lingual questions go both ways:

- `debian-reference.fr.ch01-06.pdf`: pages 1-147 of the French PDF (front matter and chapters 1-6,
  cut with pdfium at the start of chapter 7 as its outline gives it);
- `ch07.en.html` ... `ch12.en.html`: the English HTML chapters 7-12.

About 560 KB of text: the first index takes a few minutes on 2 cores (then it is cached).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ("debian-reference-fr", "debian-reference-en")
SHARE = Path("usr/share/debian-reference")
PDF_NAME = "debian-reference.fr.ch01-06.pdf"
HTML_CHAPTERS = [f"ch{n:02d}.en.html" for n in range(7, 13)]


def default_out() -> Path:
    from amqa.settings import Settings

    return Path(Settings.from_env().home) / "debian-reference" / "docs"


def fetch(work: Path) -> Path:
    """Download and unpack the two packages into ``work``; returns the unpacked share folder."""
    tree = work / "tree"
    if (tree / SHARE / "debian-reference.fr.pdf").is_file():
        return tree / SHARE
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob("debian-reference-fr_*.deb")) or not list(debs.glob("debian-reference-en_*.deb")):
        r = subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"apt-get download {' '.join(PACKAGES)} failed: {r.stderr.strip()[-300:]}\n"
                     "Run `apt-get update` first (as root), or download the two .deb files into " + str(debs))
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree / SHARE


def chapter_start(pdf, number: int) -> int:
    """0-based page index where top-level outline entry ``number`` (1-based, front matter excluded) starts."""
    entries = [item for item in pdf.get_toc() if item.level == 0]
    return entries[number - 1].get_dest().get_index()


def lay_out(share: Path, out: Path) -> None:
    import pypdfium2 as pdfium

    out.mkdir(parents=True, exist_ok=True)
    source = pdfium.PdfDocument(str(share / "debian-reference.fr.pdf"))
    end = chapter_start(source, 7)  # chapter 7 ("GUI System") starts on page 148
    part = pdfium.PdfDocument.new()
    part.import_pages(source, list(range(end)))
    tmp = out / (PDF_NAME + ".part")
    part.save(str(tmp))
    tmp.replace(out / PDF_NAME)
    for name in HTML_CHAPTERS:
        shutil.copyfile(share / name, out / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="documents folder to write (default: <amqa home>/debian-reference/docs)")
    args = parser.parse_args()
    out = args.out or default_out()
    if not (out / PDF_NAME).is_file() or not all((out / n).is_file() for n in HTML_CHAPTERS):
        lay_out(fetch(out.parent / "download"), out)
    print(out)


if __name__ == "__main__":
    main()
