"""Page furniture is not evidence (issue 24, item 3): real HTML pages written as files, a PDF whose
running heads and page numbers fpdf2 draws on every page, and plain text wrapped by a real wrapper
(textwrap, as groff and editors wrap), each read through amqa's reader from a documents folder."""
import textwrap
from pathlib import Path

import pytest

from amqa import Engine
from amqa.ingest.documents import load_folder
from amqa.ingest.readers import HtmlReading, html_to_text, join_hard_wrapped

FACT = "La presse hydraulique de Chalons a été installée en octobre 2023."
SPHINX = f"""<!DOCTYPE html><html lang="fr"><head><title>Les machines</title>
<style>.debug {{ display: none }} p.note {{ color: red }}</style></head><body>
<div class="related" role="navigation" aria-label="related navigation"><ul>
<li><a href="index.html">Sommaire</a> »</li><li><a href="next.html">Suivant</a></li></ul></div>
<div class="document"><div class="body" role="main">
<section id="machines"><h1>Les machines</h1><p>{FACT}</p>
<table><tr><th>machine</th><th>campus</th></tr>
<tr><td><a href="p.html">presse</a></td><td><a href="c.html">Chalons</a></td></tr></table>
<div class="related-topics"><p>Rubriques connexes</p><ul><li><a href="a.html">Fraiseuses du campus de Cluny</a></li>
<li><a href="b.html">Tours numériques du campus de Metz</a></li>
<li><a href="d.html">Fonderie du campus de Lille</a></li></ul></div>
</section></div></div>
<div class="sphinxsidebar" role="navigation"><h3>Sujet précédent</h3><p><a href="prev.html">Les ateliers</a></p></div>
<div class="footer">© Copyright 2023, Arts et Métiers. Créé avec Sphinx.</div>
</body></html>"""
HELP = f"""<html><head><title>Aide</title><style>#DEBUG, .debug {{display:none}}</style></head><body>
<header><a href="home.html"><p>Aide du campus 7.4</p></a></header>
<aside class="leftside"><div>Index</div></aside>
<div id="DisplayArea"><h1>Fours</h1><p>{FACT}</p>
<p>Choisissez <span hidden="true" class="MAC">Préférences</span><span hidden="true">Outils - Options</span>.</p>
<p aria-hidden="true">Icône astuce</p><p style="color: red; display : none">Texte masqué</p>
<div class="debug">Help content debug info: this page is fours.xhp</div></div>
<footer><p>This page is: /text/fours.xhp</p></footer></body></html>"""
FURNITURE = ("Sommaire", "Suivant", "Sujet précédent", "Les ateliers", "© Copyright", "Rubriques connexes",
             "Fraiseuses", "Aide du campus", "Index", "Icône astuce", "Texte masqué", "Help content debug info",
             "This page is")


@pytest.fixture()
def pages(tmp_path):
    (tmp_path / "machines.html").write_text(SPHINX, encoding="utf-8")
    (tmp_path / "fours.html").write_text(HELP, encoding="utf-8")
    (tmp_path / "index.html").write_text('<html><body><div id="main"><ul><li><a href="machines.html">Les machines'
                                         '</a></li><li><a href="fours.html">Les fours</a></li></ul></div></body></html>')
    docs, skipped = load_folder(tmp_path)
    assert skipped == []
    return {d.source: d for d in docs}


def test_html_furniture_is_left_out_and_the_content_kept(pages):
    for name in ("machines.html", "fours.html"):
        text = pages[name].text
        assert FACT in text
        assert [f for f in FURNITURE if f in text] == [], text
    assert "machine | campus\npresse | Chalons" in pages["machines.html"].text  # a table of links stays
    assert "Outils - Options" in pages["fours.html"].text  # shown by script: the hidden attribute is not honoured


def test_a_page_of_links_only_keeps_its_links(pages):
    assert pages["index.html"].text == "Les machines\nLes fours"


@pytest.mark.parametrize("off, kept", [
    (dict(landmarks=False), ["Aide du campus", "Index", "This page is"]),
    (dict(hidden=False), ["Icône astuce", "Texte masqué", "Help content debug info"]),
    (dict(link_density=1.5), []),
])
def test_each_rule_is_what_leaves_its_furniture_out(off, kept):
    text = html_to_text(HELP, HtmlReading(**off)).text
    assert all(k in text for k in kept), text
    sphinx = html_to_text(SPHINX, HtmlReading(main_only=False, landmarks=False, link_density=1.5)).text
    assert all(f in sphinx for f in ("Sommaire", "Sujet précédent", "© Copyright", "Rubriques connexes"))
    assert "Rubriques connexes" not in html_to_text(SPHINX, HtmlReading(main_only=False)).text


def running_pdf(path: Path, bodies: list[list[str]]) -> None:
    """A PDF whose every page fpdf2 heads with the guide's name and foots with its number."""
    from fpdf import FPDF

    class Guide(FPDF):
        def header(self):
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, "Guide des campus Arts et Metiers", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} / {{nb}}", align="C")

    pdf = Guide()
    for lines in bodies:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        for line in lines:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    path.write_bytes(bytes(pdf.output()))


BODIES = [["Les ateliers de Cluny ouvrent en septembre."], ["Le campus de Metz compte douze laboratoires."],
          ["The Chalons hydraulic press was installed in October 2023."], ["Le four solaire atteint 3500 degres."]]


def test_pdf_running_heads_and_page_numbers_are_dropped_and_pages_stay_exact(tmp_path):
    running_pdf(tmp_path / "guide.pdf", BODIES)
    (doc,), skipped = load_folder(tmp_path)
    assert skipped == []
    assert "Guide des campus" not in doc.text and "Page " not in doc.text, doc.text
    assert len(doc.pages) == len(BODIES)
    for start, lines in zip(doc.pages, BODIES):
        assert doc.text[start:].startswith(lines[0])


def test_a_pdf_with_a_line_on_two_pages_of_four_keeps_it(tmp_path):
    bodies = [["Sommaire du guide"] + b if i < 2 else b for i, b in enumerate(BODIES)]
    running_pdf(tmp_path / "guide.pdf", bodies)
    (doc,), _ = load_folder(tmp_path)
    assert doc.text.count("Sommaire du guide") == 2


def test_the_answer_cites_the_page_without_its_running_head(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    running_pdf(docs / "guide.pdf", BODIES)
    answer = Engine(docs, tmp_path / "store", progress=False).answer("When was the Chalons hydraulic press installed?")
    cited = answer.citations[0]
    assert cited.page == 3 and "October 2023" in cited.quote and "Guide des campus" not in cited.quote


PARAGRAPH = ("si un fichier cible existant ne peut pas être ouvert, alors le détruire et essayer à nouveau "
             "(cette option est ignorée si l'option de non-écrasement est aussi utilisée par la commande)")


def test_hard_wrapped_plain_text_is_joined_with_offsets_kept(tmp_path):
    wrapped = "\n".join(["CP(1)", "", "OPTIONS", "       -f, --force",
                         textwrap.fill(PARAGRAPH, 78, initial_indent=" " * 14, subsequent_indent=" " * 14), "",
                         textwrap.fill("-H     suivre les liens symboliques fournis en ligne de commande dans les "
                                       "répertoires SOURCE et CIBLE indiqués", 78, initial_indent=" " * 7,
                                       subsequent_indent=" " * 14), "",
                         "       cp -f source cible", "       cp -r dossier copie"])
    (tmp_path / "cp.1.txt").write_text(wrapped, encoding="utf-8")
    (doc,), _ = load_folder(tmp_path)
    assert len(doc.text) == len(wrapped) and all(a == b or (a, b) == (" ", "\n") for a, b in zip(doc.text, wrapped))
    lines = [line.split() for line in doc.text.split("\n")]
    assert PARAGRAPH.split() in lines  # the paragraph is one line again
    assert any(w[:2] == ["-H", "suivre"] and w[-1] == "indiqués" for w in lines)  # a hanging paragraph too
    assert ["-f,", "--force"] in lines and ["cp", "-f", "source", "cible"] in lines  # option tag, code lines apart


def test_a_text_with_a_paragraph_per_line_is_left_as_it_is():
    text = "Titre\n" + PARAGRAPH + " " + PARAGRAPH + "\n" + PARAGRAPH + " " + PARAGRAPH + "\n"
    assert join_hard_wrapped(text) == text
    narrow = textwrap.fill(PARAGRAPH, 60) + "\n" + textwrap.fill(PARAGRAPH, 60)
    assert join_hard_wrapped(narrow).count("\n") < narrow.count("\n")
