"""Every format amqa reads, with files made by the real libraries (tests/make_files.py): each is indexed,
and a French and an English question get an answer that cites it, on its page or slide."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from make_files import CASES, pdf_pages, write_all, write_scan

from amqa import Engine
from amqa.frontends.cli import main
from amqa.ingest.documents import load_folder, read_document, scan_folder
from amqa.ingest.readers import NO_OCR, tesseract
from amqa.index.local.store import read_manifest
from amqa.text import readable
from amqa.types import Document

ROOT = Path(__file__).resolve().parents[1]
SCAN = next(c for c in CASES if c.name == "scan.pdf")
TEXT_CASES = [c for c in CASES if c is not SCAN]  # read without OCR (Tesseract is a subprocess: slow)
# Skipped on a machine without Tesseract, except where AMQA_REQUIRE_OCR is set (.ci/run sets it).
OCR = tesseract() is not None or bool(os.environ.get("AMQA_REQUIRE_OCR"))
needs_tesseract = pytest.mark.skipif(not OCR, reason="tesseract is not installed (apt-get install tesseract-ocr)")


def questions(cases):
    return [pytest.param(case, lang, id=f"{case.name}-{lang}") for case in cases for lang in ("fr", "en")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("formats") / "docs", TEXT_CASES)


@pytest.fixture(scope="module")
def documents(folder):
    docs, skipped = load_folder(folder)
    assert skipped == []
    return {d.source: d for d in docs}


@pytest.fixture(scope="module")
def hash_formats(folder, tmp_path_factory):
    return Engine(folder, tmp_path_factory.mktemp("formats-store"), "hash", progress=False)


@pytest.fixture(scope="module")
def real_formats(tmp_path_factory):
    """The real model over every case, the scan included when Tesseract is there."""
    cases = CASES if OCR else TEXT_CASES
    docs = write_all(tmp_path_factory.mktemp("formats-real") / "docs", cases)
    return Engine(docs, tmp_path_factory.mktemp("formats-real-store"), progress=False)


def check_answer(engine: Engine, case, lang: str) -> None:
    """The fact's question is answered from the fact's file, on its page, quoting the fact."""
    fact = case.fr if lang == "fr" else case.en
    answer = engine.answer(fact.question)
    assert not answer.abstained, answer.text
    cited = answer.citations[0]
    assert cited.source == case.name, answer.text
    assert fact.answer in cited.quote and fact.answer in answer.marked_text("", "")
    assert cited.page == fact.page
    doc = read_document(next(f for f in scan_folder(engine.docs).files if f.source == case.name))
    assert isinstance(doc, Document) and cited.text == doc.text[cited.start:cited.end]  # exact offsets


def test_each_format_is_read_with_its_title_and_pages(documents):
    assert sorted(documents) == sorted(c.name for c in TEXT_CASES)
    for case in TEXT_CASES:
        doc = documents[case.name]
        assert doc.title == case.title, case.name
        shown = readable(doc.text, markdown=case.name.endswith(".md"))  # the Markdown file's facts are marked up
        for fact in (case.fr, case.en):
            at = shown.text.find(fact.sentence)
            assert at >= 0, (case.name, fact.sentence, doc.text)
            assert doc.page_at(shown.kept[at]) == fact.page
        assert bool(doc.pages) == (case.fr.page is not None)


def test_spreadsheets_read_as_rows_under_their_sheet_names(documents):
    lines = documents["campus.xlsx"].text.splitlines()
    assert lines[:2] == ["Campus", "campus | ville | ouverture"]
    assert "campus: Campus international | ville: Rabat | ouverture: 2026" in lines
    assert lines[lines.index("Laboratories") + 1] == "laboratory | city | budget in euros"
    assert documents["formations.csv"].text.splitlines()[1] == "formation: Licence de mécatronique | ville: Bordeaux | places: 48"


def test_a_csv_cell_longer_than_csvs_default_limit_is_read(tmp_path):
    import csv

    long_text = "Le campus de Rabat ouvrira en 2026. " * 6000  # 216,000 characters in one cell
    path = tmp_path / "notes.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["sujet", "notes"], ["Maroc", long_text]])
    limit = csv.field_size_limit()
    doc = read_document(next(f for f in scan_folder(tmp_path).files if f.source == "notes.csv"))
    assert isinstance(doc, Document), doc
    assert doc.text.count("Le campus de Rabat ouvrira en 2026.") == 6000
    assert csv.field_size_limit() == limit  # the process's limit is left as it was


@pytest.mark.parametrize("case, lang", questions(TEXT_CASES))
def test_each_format_answers_a_french_and_an_english_question(hash_formats, case, lang):
    check_answer(hash_formats, case, lang)


@pytest.mark.slow
@pytest.mark.parametrize("case, lang", questions(CASES))
def test_each_format_answers_with_the_real_model(real_formats, case, lang):
    if case is SCAN and not OCR:
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr)")
    check_answer(real_formats, case, lang)


def test_the_index_keeps_the_pages_and_a_reloaded_engine_cites_them(hash_formats, documents, folder):
    hash_formats.index()
    files = read_manifest(hash_formats.store).files
    assert {c.name: files[c.name].pages for c in TEXT_CASES} == {c.name: documents[c.name].pages for c in TEXT_CASES}
    fresh = Engine(folder, hash_formats.store, "hash", progress=False)  # pages come back from the disk
    case = next(c for c in CASES if c.name == "prototypes.odp")
    assert fresh.answer(case.en.question).citations[0].page == case.en.page


@pytest.fixture
def three_pages(tmp_path):
    """A three-page PDF whose answer is on page 2, alone in its folder, and its question."""
    case = next(c for c in CASES if c.name == "machines.pdf")
    docs = write_all(tmp_path / "pdf", [case])
    return docs, tmp_path / "pdf-store", case.fr


def test_a_pdf_answer_on_page_2_is_cited_p_2_in_ask_json_and_the_api(three_pages, capsys):
    docs, store, fact = three_pages
    flags = ["--docs", str(docs), "--store", str(store), "--embedder", "hash"]
    assert main(["ask", fact.question, *flags]) == 0
    out = capsys.readouterr().out
    assert f"[1] machines.pdf p. {fact.page}  (chars" in out
    assert main(["ask", fact.question, *flags, "--json"]) == 0
    cited = json.loads(capsys.readouterr().out)["citations"][0]
    assert (cited["source"], cited["page"]) == ("machines.pdf", fact.page)
    api = Engine(docs, store, "hash", progress=False).answer(fact.question).citations[0]
    assert (api.page, api.location) == (fact.page, f"p. {fact.page}")


@pytest.mark.slow
def test_ask_cites_the_page_with_the_real_model(three_pages):
    docs, store, fact = three_pages
    r = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", fact.question, "--docs", str(docs), "--store",
                        str(store), "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["outcome"] == "answered" and out["citations"][0]["page"] == fact.page
    assert fact.answer in out["citations"][0]["quote"]


def test_a_scan_without_tesseract_is_skipped_with_the_reason(tmp_path, monkeypatch):
    import pytesseract

    write_scan(SCAN, tmp_path / "scan.pdf")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-tesseract-here"))
    docs, skipped = load_folder(tmp_path)
    assert docs == [] and [(s.source, s.reason) for s in skipped] == [("scan.pdf", NO_OCR)]


@needs_tesseract
def test_a_picture_on_a_page_without_text_is_not_read_as_a_scan(tmp_path):
    """A cover with a picture of text on part of it is no scan: OCR there would shift every offset after it."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    write_scan(SCAN, tmp_path / "scan.pdf")
    scanned = pdfium.PdfDocument(str(tmp_path / "scan.pdf"))
    scanned[0].render(scale=1).to_pil().save(tmp_path / "picture.png")  # a page of text, as a picture
    scanned.close()
    pdf = FPDF()
    pdf.set_font("Helvetica", size=13)
    pdf.add_page()
    pdf.image(str(tmp_path / "picture.png"), x=60, y=80, w=90)  # 90 mm of 210: under a fifth of the page
    pdf.add_page()
    pdf.multi_cell(0, 8, "Premier chapitre : le campus.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cover.pdf").write_bytes(bytes(pdf.output()))
    (docs / "plain.pdf").write_bytes(pdf_pages([["Premier chapitre : le campus."]]))
    (cover, plain), _ = load_folder(docs)
    assert cover.text == plain.text and cover.pages == (0, 0)  # page 1 holds no text: page 2 starts at 0


@pytest.mark.parametrize("name", ["broken.docx", "broken.pptx", "broken.xlsx", "broken.odt", "broken.odp",
                                  "broken.epub", "broken.rtf"])
def test_a_broken_file_is_skipped_with_one_line(tmp_path, name):
    (tmp_path / name).write_bytes(b"PK\x03\x04 not really an archive\n{\\rtf")
    docs, skipped = load_folder(tmp_path)
    assert docs == [] and len(skipped) == 1
    reason = skipped[0].reason
    assert reason and "\n" not in reason and str(tmp_path) not in reason and "Traceback" not in reason


def test_nothing_outside_the_folder_is_read(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("Le code du coffre est 4321.", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "inside.txt").write_text("Le campus ouvre à 8 heures.", encoding="utf-8")
    (docs / "link.txt").symlink_to(outside)
    (docs / "alias.txt").symlink_to(docs / "inside.txt")  # a link inside the folder is fine
    found, skipped = load_folder(docs)
    assert sorted(d.source for d in found) == ["alias.txt", "inside.txt"]
    assert [s.source for s in skipped] == ["link.txt"] and "outside the documents folder" in skipped[0].reason


def test_utf16_and_bom_text_keep_exact_offsets(documents, folder):
    for name, encoding in (("notes-utf16.txt", "utf-16"), ("lisez-moi.md", "utf-8-sig")):
        assert documents[name].text == (folder / name).read_bytes().decode(encoding)


def test_reading_time_per_format(documents, folder, capsys):
    """Each test file is read in well under a second (the numbers are printed with -s)."""
    import time

    for file in scan_folder(folder).files:
        t0 = time.perf_counter()
        read_document(file)
        elapsed = time.perf_counter() - t0
        print(f"{file.source:<20} {elapsed * 1000:7.1f} ms")
        assert elapsed < 1.0, file.source


def test_the_test_files_are_what_their_suffix_says(folder):
    """Office, OpenDocument and EPUB files are zip archives, a PDF starts with its header: the libraries
    wrote real files, not text with a suffix."""
    import zipfile

    for case in TEXT_CASES:
        path = folder / case.name
        if path.suffix in (".docx", ".pptx", ".xlsx", ".odt", ".odp", ".epub"):
            assert zipfile.is_zipfile(path), case.name
    assert (folder / "machines.pdf").read_bytes().startswith(b"%PDF")
