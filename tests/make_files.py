"""Documents in every format amqa reads, written by the real libraries (or the standard library) the way
users' files are: python-docx, python-pptx, openpyxl, odfpy, ebooklib, fpdf2, the csv and email modules,
and for a scan, a PDF page rendered by pdfium and saved as a picture by Pillow.

Each file holds a French fact and an English fact (:class:`Fact`), on the page or slide given;
:data:`CASES` says which file holds which, and :func:`write_all` writes them into a folder.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class Fact:
    """A sentence a document holds, a question it answers, and the words the answer must show."""

    sentence: str
    question: str
    answer: str
    page: int | None = None  # the page or slide the sentence is on, for formats with pages


@dataclass(frozen=True)
class Case:
    """One file: its name, its title, its French and English facts, and the function that writes it."""

    name: str
    title: str
    fr: Fact
    en: Fact
    write: Callable[[Case, Path], None]


def write_docx(case: Case, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = case.title
    document.add_heading("Les ateliers", level=1)
    document.add_paragraph(case.fr.sentence)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("atelier", "ville"), ("menuiserie", "Cluny")]):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    document.add_paragraph(case.en.sentence)
    document.save(str(path))


def write_pptx(case: Case, path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])  # title slide: no core title, the slide names it
    first.shapes.title.text = case.title
    for fact, heading in ((case.fr, "Équipements"), (case.en, "Equipment")):
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only, then a text box of our own
        slide.shapes.title.text = heading
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(2))
        box.text_frame.text = fact.sentence
    deck.save(str(path))


def write_xlsx(case: Case, path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.properties.title = case.title
    fr = book.active
    fr.title = "Campus"
    fr.append(["campus", "ville", "ouverture"])
    fr.append(["Campus de Bayonne", "Bayonne", 2021])
    fr.append(["Campus international", "Rabat", 2026])
    en = book.create_sheet("Laboratories")
    en.append(["laboratory", "city", "budget in euros"])
    en.append(["Hydrogen laboratory", "Chalons", 180000])
    en.append(["Acoustics laboratory", "Le Mans", 95000])
    book.save(str(path))


def write_csv(case: Case, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")  # as French Excel writes it
    writer.writerows([["formation", "ville", "places"], ["Licence de mécatronique", "Bordeaux", "48"],
                      ["Acoustics master", "Le Mans", "22"]])
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def _odf_paragraphs(document, lines: list[str], heading: str | None = None) -> None:
    from odf import text

    if heading:
        document.text.addElement(text.H(outlinelevel=1, text=heading))
    for line in lines:
        document.text.addElement(text.P(text=line))


def write_odt(case: Case, path: Path) -> None:
    from odf import dc, table, text
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    document.meta.addElement(dc.Title(text=case.title))
    _odf_paragraphs(document, [case.fr.sentence], heading="Conseil d'école")
    grid = table.Table(name="Votes")
    for cells in (("décision", "voix"), ("piscine", "31")):
        row = table.TableRow()
        for value in cells:
            cell = table.TableCell()
            cell.addElement(text.P(text=value))
            row.addElement(cell)
        grid.addElement(row)
    document.text.addElement(grid)
    _odf_paragraphs(document, [case.en.sentence])
    document.save(str(path))


def write_odp(case: Case, path: Path) -> None:
    from odf import draw, style, text
    from odf.opendocument import OpenDocumentPresentation

    document = OpenDocumentPresentation()
    layout = style.PageLayout(name="layout")
    document.automaticstyles.addElement(layout)
    master = style.MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for lines in ([case.title], ["Prototypes", case.fr.sentence], ["Prototypes", case.en.sentence]):
        page = draw.Page(masterpagename=master)
        frame = draw.Frame(width="20cm", height="10cm", x="1cm", y="1cm")
        box = draw.TextBox()
        for line in lines:
            box.addElement(text.P(text=line))
        frame.addElement(box)
        page.addElement(frame)
        document.presentation.addElement(page)
    document.save(str(path))


def write_epub(case: Case, path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("amqa-test-guide")
    book.set_title(case.title)
    book.set_language("fr")
    chapters = []
    for i, (heading, fact) in enumerate((("Restauration", case.fr), ("Library", case.en)), 1):
        chapter = epub.EpubHtml(title=heading, file_name=f"chap_{i}.xhtml", lang="fr")
        chapter.content = f"<h1>{heading}</h1><p>{fact.sentence}</p>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav"] + chapters
    epub.write_epub(str(path), book)


def rtf_escape(text: str) -> str:
    """Text as RTF writes it: Latin-1 letters as \\'xx, others as \\uN?."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append("\\" + ch if ch in "\\{}" else ch)
        elif ord(ch) < 256:
            out.append(f"\\'{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch)}?")
    return "".join(out)


def write_rtf(case: Case, path: Path) -> None:
    body = "\\par\n".join(rtf_escape(s) for s in (case.fr.sentence, case.en.sentence))
    path.write_text("{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}"
                    f"{{\\info{{\\title {rtf_escape(case.title)}}}}}\n\\f0\\fs24 {body}\\par\n}}", encoding="ascii")


def _message(case: Case) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = case.title
    message["From"] = "Scolarité <scolarite@exemple.fr>"
    message["To"] = "etudiants@exemple.fr"
    message["Date"] = "Tue, 01 Jul 2025 09:30:00 +0200"
    return message


def write_eml(case: Case, path: Path) -> None:
    message = _message(case)
    message.set_content(f"Bonjour,\n\n{case.fr.sentence}\n\n{case.en.sentence}\n\nLa scolarité\n")
    path.write_bytes(bytes(message))


def write_html_eml(case: Case, path: Path) -> None:
    message = _message(case)
    message.set_content(f"<html><body><p>{case.fr.sentence}</p><p>{case.en.sentence}</p></body></html>", subtype="html")
    path.write_bytes(bytes(message))


def write_utf16(case: Case, path: Path) -> None:
    path.write_bytes(f"{case.title}\r\n\r\n{case.fr.sentence}\r\n{case.en.sentence}\r\n".encode("utf-16"))


def write_bom_markdown(case: Case, path: Path) -> None:
    path.write_bytes(f"# {case.title}\n\nLe **parking vélo** de la gare de Lille compte "
                     f"[112 places couvertes](https://exemple.org/velo).\n\n{case.en.sentence}\n".encode("utf-8-sig"))


def pdf_pages(pages: list[list[str]], title: str = "") -> bytes:
    """A PDF with a text layer, a page per list of lines (fpdf2; Helvetica writes Latin-1)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=13)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def write_pdf(case: Case, path: Path) -> None:
    path.write_bytes(pdf_pages([
        ["Rapport d'équipement", "Ce rapport présente les machines achetées par les campus."],
        [case.fr.sentence, case.en.sentence],
        ["Annexe", "Les fournisseurs ont été choisis par appel d'offres."],
    ], title=case.title))


def write_scan(case: Case, path: Path) -> None:
    """A scanned document: pages that are pictures of text, with no text layer (an image PDF by Pillow)."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(pdf_pages([[case.fr.sentence], [case.en.sentence]]))
    images = [page.render(scale=200 / 72).to_pil().convert("L") for page in source]  # 200 dpi, greyscale
    source.close()
    images[0].save(str(path), save_all=True, append_images=images[1:], resolution=200)


CASES = (
    Case("rapport.docx", "Rapport annuel des ateliers",
         Fact("L'atelier de menuiserie de Cluny a fabriqué 340 chaises pour la bibliothèque.",
              "Combien de chaises l'atelier de menuiserie de Cluny a-t-il fabriquées ?", "340"),
         Fact("The Angers glassblowing studio trained 27 apprentices in 2024.",
              "How many apprentices did the Angers glassblowing studio train?", "27"), write_docx),
    Case("equipements.pptx", "Nouveaux équipements des campus",
         Fact("Le robot soudeur de Metz a été livré en mars 2024.",
              "Quand le robot soudeur de Metz a-t-il été livré ?", "mars 2024", page=2),
         Fact("The Lille wind tunnel reaches a speed of 95 metres per second.",
              "What speed does the Lille wind tunnel reach?", "95 metres per second", page=3), write_pptx),
    Case("campus.xlsx", "Campus et laboratoires",
         Fact("ville: Rabat | ouverture: 2026", "En quelle année ouvre le campus international de Rabat ?", "2026"),
         Fact("city: Chalons | budget in euros: 180000", "What is the budget in euros of the hydrogen laboratory?",
              "180000"), write_xlsx),
    Case("formations.csv", "formations",
         Fact("ville: Bordeaux | places: 48", "Combien de places compte la licence de mécatronique à Bordeaux ?", "48"),
         Fact("ville: Le Mans | places: 22", "How many places does the acoustics master offer?", "22"), write_csv),
    Case("conseil.odt", "Compte rendu du conseil d'école",
         Fact("Le conseil a voté la rénovation de la piscine de Talence pour 2 millions d'euros.",
              "Combien coûte la rénovation de la piscine de Talence ?", "2 millions d'euros"),
         Fact("The council approved a new greenhouse in Aix costing 75,000 euros.",
              "How much does the new greenhouse in Aix cost?", "75,000 euros"), write_odt),
    Case("prototypes.odp", "Soutenances de projets",
         Fact("Le prototype de drone agricole pèse 4 kilogrammes.",
              "Combien pèse le prototype de drone agricole ?", "4 kilogrammes", page=2),
         Fact("The solar car prototype covered 1,200 kilometres in Australia.",
              "How far did the solar car prototype travel in Australia?", "1,200 kilometres", page=3), write_odp),
    Case("guide.epub", "Guide de l'étudiant",
         Fact("La cafétéria de Bordeaux sert des crêpes chaque jeudi.",
              "Quel jour la cafétéria de Bordeaux sert-elle des crêpes ?", "jeudi"),
         Fact("The Cluny library lends tablets for three weeks.",
              "For how long does the Cluny library lend tablets?", "three weeks"), write_epub),
    Case("lettre.rtf", "Lettre du directeur",
         Fact("Le gymnase de Châlons sera rénové à l'été 2025.", "Quand le gymnase de Châlons sera-t-il rénové ?",
              "été 2025"),
         Fact("The Metz observatory telescope has a 60 centimetre mirror.",
              "How large is the mirror of the Metz observatory telescope?", "60 centimetre"), write_rtf),
    Case("annonce.eml", "Fermeture du campus d'Angers",
         Fact("Le campus d'Angers sera fermé le 14 juillet pour la fête nationale.",
              "Quand le campus d'Angers sera-t-il fermé ?", "14 juillet"),
         Fact("The Angers shuttle bus leaves the station every 20 minutes.",
              "How often does the Angers shuttle bus leave the station?", "every 20 minutes"), write_eml),
    Case("lettre-info.eml", "Lettre d'information de Besançon",
         Fact("La salle blanche de Besançon a obtenu la certification ISO 5 en avril.",
              "Quelle certification la salle blanche de Besançon a-t-elle obtenue ?", "ISO 5"),
         Fact("The Besançon clean room welcomes 15 doctoral students.",
              "How many doctoral students does the Besançon clean room welcome?", "15"), write_html_eml),
    Case("notes-utf16.txt", "Notes du bureau des élèves",
         Fact("La chorale de l'école répète le mardi à 18 heures.", "Quand la chorale de l'école répète-t-elle ?",
              "mardi à 18 heures"),
         Fact("The robotics club meets in room B204 on Fridays.", "Where does the robotics club meet?", "B204"),
         write_utf16),
    Case("lisez-moi.md", "Lisez-moi",
         Fact("Le parking vélo de la gare de Lille compte 112 places couvertes.",
              "Combien de places couvertes compte le parking vélo de la gare de Lille ?", "112 places"),
         Fact("The Lille makerspace opens at 7 am on weekdays.", "When does the Lille makerspace open on weekdays?",
              "7 am"), write_bom_markdown),
    Case("machines.pdf", "Rapport d'équipement 2025",
         Fact("La presse hydraulique de Chalons a coûté 3 millions d'euros.",
              "Combien a coûté la presse hydraulique de Chalons ?", "3 millions d'euros", page=2),
         Fact("The Chalons hydraulic press was installed in October 2023.",
              "When was the Chalons hydraulic press installed?", "October 2023", page=2), write_pdf),
    Case("scan.pdf", "Le four solaire d'Odeillo atteint 3500 degrés.",
         Fact("Le four solaire d'Odeillo atteint 3500 degrés.", "Quelle température atteint le four solaire d'Odeillo ?",
              "3500 degrés", page=1),
         Fact("The Odeillo solar furnace has 63 heliostats.", "How many heliostats does the Odeillo solar furnace have?",
              "63 heliostats", page=2), write_scan),
)


def write_all(folder: Path, cases=CASES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        case.write(case, folder / case.name)
    return folder


# --- decompression bombs (issue 22, case 3) --------------------------------------------------------
# A real file written by its library, then one part rewritten by zipfile with a body repeated until it
# decompresses to ``megabytes`` MB: deflate packs such a body about 1,000 times (its ceiling is 1,032),
# as the bombs of issue 22 were (a 52 kB .docx, a 22 kB .odt, a 38 kB .pptx).

def rewrite_part(path: Path, name: str, change: Callable[[str], str], compression: int = 8) -> None:
    """Rewrite the part ``name`` of the zip at ``path`` as ``change`` makes it (the other parts kept;
    ``compression``: zipfile's method, 8 deflate, 12 bzip2)."""
    import zipfile

    with zipfile.ZipFile(path) as old:
        parts = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w") as new:
        for info, data in parts:
            if info.filename == name:
                new.writestr(info.filename, change(data.decode("utf-8")).encode("utf-8"), compress_type=compression,
                             compresslevel=9)
            else:
                new.writestr(info, data)


def _repeat(unit: str, megabytes: float, padding: int = 0) -> str:
    """``unit`` (then ``padding`` spaces) repeated to ``megabytes`` MB: padding packs better (deflate
    codes a run of one character in fewer bits than a repeat 38 characters back) and makes fewer
    elements, for a bomb that an unguarded reader still reads quickly."""
    unit += " " * padding
    return unit * int(megabytes * 2**20 / len(unit))


def write_docx_bomb(path: Path, megabytes: float = 50, padding: int = 0) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Rapport")
    document.save(str(path))
    body = _repeat("<w:p><w:r><w:t>bombe</w:t></w:r></w:p>", megabytes, padding)
    rewrite_part(path, "word/document.xml", lambda xml: xml.replace("<w:sectPr", body + "<w:sectPr", 1))


def write_odt_bomb(path: Path, megabytes: float = 22, padding: int = 0) -> None:
    from odf import text
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    document.text.addElement(text.P(text="Compte rendu"))
    document.save(str(path))
    body = _repeat("<text:p>bombe</text:p>", megabytes, padding)
    rewrite_part(path, "content.xml", lambda xml: xml.replace("</office:text>", body + "</office:text>", 1))


def write_pptx_bomb(path: Path, megabytes: float = 38, padding: int = 0) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    slide.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text_frame.text = "Diapositive"
    deck.save(str(path))
    body = _repeat("<a:p><a:r><a:t>bombe</a:t></a:r></a:p>", megabytes, padding)
    rewrite_part(path, "ppt/slides/slide1.xml", lambda xml: xml.replace("</p:txBody>", body + "</p:txBody>", 1))


def write_xlsx_bomb(path: Path, megabytes: float = 40, padding: int = 0) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["ville", "campus"])
    book.save(str(path))
    body = _repeat('<row><c t="inlineStr"><is><t>bombe</t></is></c></row>', megabytes, padding)
    rewrite_part(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("</sheetData>", body + "</sheetData>", 1))


def write_epub_listing_twice(path: Path, times: int = 20, megabytes: float = 0.0) -> None:
    """An EPUB whose spine lists its one chapter ``times`` times; the chapter inflated to ``megabytes``
    MB when given (issue 22: 4.4 kB, 20 times, 66 s and 2.7 GB)."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("amqa-bomb")
    book.set_title("Guide")
    book.set_language("fr")
    chapter = epub.EpubHtml(title="Bibliothèque", file_name="chap.xhtml", lang="fr")
    chapter.content = "<h1>Bibliothèque</h1><p>La bibliothèque de Cluny prête des tablettes pour trois semaines.</p>"
    book.add_item(chapter)
    book.toc = [chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = [chapter]
    epub.write_epub(str(path), book)

    def repeat_spine(opf: str) -> str:
        start = opf.index("<itemref", opf.index("<spine"))
        end = opf.index("/>", start) + 2
        return opf[:start] + opf[start:end] * times + opf[end:]

    rewrite_part(path, "EPUB/content.opf", repeat_spine)
    if megabytes:
        body = _repeat("<p>bombe</p>", megabytes)
        rewrite_part(path, "EPUB/chap.xhtml", lambda html: html.replace("</body>", body + "</body>", 1))


def write_lying_bzip2_docx(path: Path, megabytes: float = 200, declared: int = 10_000) -> None:
    """A .docx whose document.xml is bzip2 (which packs zeros some 100,000 times, where deflate's
    ceiling is 1,032) and whose headers declare ``declared`` bytes instead of its real size."""
    import struct

    write_docx_bomb(path, 0.01)
    rewrite_part(path, "word/document.xml", lambda xml: xml + " " * int(megabytes * 2**20), compression=12)
    data = bytearray(path.read_bytes())
    name = b"word/document.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = 0
        while (at := data.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, declared)
            at += 4
    path.write_bytes(bytes(data))
