import dataclasses
import threading
from pathlib import Path

import pytest

from amqa.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
ENSMM = "001_3c9c59b90a3a1c43.txt"
PRESS = "000_c8fb014e83a46547.txt"


def test_french_question_cites_its_french_source(engine):
    a = engine.answer("À Besançon, quelle école forme 900 élèves ingénieurs par an ?")
    assert not a.abstained and a.language == "fr"
    assert a.citations[0].source == ENSMM
    assert a.text.startswith("D'après les documents") and "[1]" in a.text


def test_english_paraphrase_finds_the_same_french_source(engine):
    a = engine.answer("Which engineering school in Besançon trains 900 students a year?")
    assert not a.abstained and a.language == "en"
    assert a.citations[0].source == ENSMM
    assert a.text.startswith("According to the documents")


def test_french_question_about_an_english_document(engine):
    a = engine.answer("Combien d'apprentis sont formés à Arts et Métiers ?")
    assert a.citations[0].source == PRESS and "1,000 apprentices" in a.citations[0].text
    assert a.text.startswith("D'après")


def test_cited_spans_match_the_files(engine):
    for q in ("Quand la convention avec l'ENSMM a-t-elle été signée ?", "Where will the Moroccan campus open?"):
        a = engine.answer(q)
        assert a.citations
        for c in a.citations:
            text = (ROOT / "seeds" / c.source).read_bytes().decode("utf-8")
            assert text[c.start:c.end] == c.text
            assert f"[{c.n}]" in a.text and c.text in a.text


@pytest.mark.parametrize("question, lang, message", [
    ("Comment préparer une pâte à crêpes ?", "fr", "Les documents ne contiennent pas"),
    ("What is the tallest mountain in Africa?", "en", "The documents do not contain"),
])
def test_off_topic_questions_abstain_in_their_language(engine, question, lang, message):
    a = engine.answer(question)
    assert a.abstained and a.citations == () and a.language == lang and a.text.startswith(message)


def test_empty_question_and_bad_k_are_clear_errors(engine):
    with pytest.raises(InvalidInputError, match="question is empty"):
        engine.answer("   ")
    with pytest.raises(InvalidInputError, match="Currently, k is 0"):
        engine.answer("Metz ?", k=0)


def test_long_question_is_cut_with_a_warning(engine):
    a = engine.answer("Où se trouve le campus marocain ? " + "blabla " * 400)
    assert a.warnings and "cut" in a.warnings[0]


def test_hits_keep_each_retrievers_ranks(engine):
    hits = engine.search("convention de partenariat ENSMM Besançon", k=5).hits
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0].dense_rank is not None and hits[0].bm25_rank is not None
    assert all(h1.score >= h2.score for h1, h2 in zip(hits, hits[1:]))


def test_answers_are_the_same_from_several_threads(engine):
    questions = ["Où se trouve le campus marocain ?", "Who is the director of AMTalents?",
                 "Quel est le budget du second AMI ?", "When was the FIMME MoU signed?"] * 2
    serial = [engine.answer(q).text for q in questions]
    results: dict[int, str] = {}

    def ask(i):
        results[i] = engine.answer(questions[i]).text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(questions))] == serial


def test_module_level_answer_function(seed_store):
    from amqa import answer

    a = answer("Which FIMME president signed the agreement with Arts et Métiers?", docs=ROOT / "seeds", store=seed_store, k=3)
    assert a.citations and a.citations[0].source == "003_b6f96e7322eea8f2.txt"
    assert len(a.hits) == 3 and set(a.timings) >= {"retrieve", "total"}


@pytest.mark.parametrize("question, expected", [
    ("Quand l'antenne du Cnam a-t-elle été inaugurée ?", "date"),
    ("In what year was the school founded?", "date"),
    ("¿Cuántos estudiantes hay?", "quantity"),
    ("Combien d'emplois compte le bassin ?", "quantity"),
    ("Qui préside l'école ?", "person"),
    ("Wo wurde der Vertrag unterzeichnet?", "place"),
    ("In which Moroccan city is the campus planned?", "place"),
    ("Quel terme a été retiré ?", None),
])
def test_expected_answer_type(question, expected):
    from amqa.writers.extractive.sentences import expected_answer_type

    assert expected_answer_type(question) == expected


def test_sentences_holding_the_asked_type():
    from amqa.writers.extractive.sentences import holds_answer_type

    signed = "The Mou was signed on Thursday, April 12, 2018 in Casablanca."
    assert holds_answer_type(signed, "date") and holds_answer_type(signed, "place")
    assert not holds_answer_type("Plus de 1 600 entreprises.", "date")  # a number, not a date
    assert holds_answer_type("Plus de 1 600 entreprises.", "quantity")
    assert not holds_answer_type("Bernard Cretin se réjouit.", "person")  # first word: any capital
    assert holds_answer_type("Se réjouit Bernard Cretin.", "person")
    assert not holds_answer_type(signed, None)


def test_list_items_are_not_headlines():
    from amqa.writers.extractive.sentences import is_headline

    assert is_headline("Arts et Métiers étoffe son réseau d’écoles partenaires")
    assert not is_headline("- Le projet « Actif-IA » du campus Arts et Métiers de Metz")
    assert not is_headline("Le campus ouvrira en 2027.")
    assert not is_headline("dialout accès complet et direct aux ports série (/dev/ttyS[0-3])")  # a table row
    assert not is_headline("etckeeper | V:27, I:31 | 164") and not is_headline("10,000+ cycles : Flash memory")
    assert not is_headline("^A d | detach screen session from the terminal")
    assert is_headline("Céline Authemayou | Publié le")  # a byline, not a table row
    assert is_headline("3.4 Liste des niveaux d’erreur du noyau . . . . . . . . 52")  # a table of contents


def test_quotes_reach_further_into_the_best_sentences_file():
    from amqa.writers.extractive.sentences import Evidence, select_sentences

    def ev(source: str, text: str, score: float) -> Evidence:
        return Evidence(source, source + "#0", 0, len(text), text, score, score, 0.0)

    ranked = [ev("a.txt", "Best.", 0.90), ev("b.txt", "Other file, close.", 0.88),
              ev("a.txt", "Same file, 0.05 behind.", 0.85), ev("b.txt", "Other file, 0.05 behind.", 0.85),
              ev("a.txt", "Same file, too far.", 0.80)]
    assert [e.text for e in select_sentences(ranked)] == ["Best.", "Other file, close.", "Same file, 0.05 behind."]
    assert [e.text for e in select_sentences(ranked[:1])] == ["Best."]


def test_faithfulness_reads_the_cited_span_as_the_quote_shows_it():
    from amqa.evaluation import faithfulness
    from amqa.types import Answer, Citation, Outcome

    source = "L'ENSMM forme 900 élèves. //\xa0©\xa0 ENSMM/P1br\nElle signe une convention."
    c = Citation(n=1, source="a.txt", chunk_id="a.txt#0", start=0, end=len(source), text=source, score=1.0)
    assert "P1br" not in c.quote  # the credit is not shown
    a = Answer(question="q", text=f"D'après les documents : « {c.quote} » [1]", citations=(c,), hits=(),
               outcome=Outcome.ANSWERED, language="fr")
    assert faithfulness(a, {"a.txt": source}) == 1.0
    a = dataclasses.replace(a, text="D'après les documents : « Elle signe un traité. » [1]")
    assert faithfulness(a, {"a.txt": source}) == 0.0


def test_writer_logic_on_the_hash_embedder(hash_engine):
    """Fast: spans are exact, markers match citations, off-topic questions abstain in their language."""
    a = hash_engine.answer("Combien d'entreprises compte le bassin de Montbéliard ?")
    assert not a.abstained and a.citations[0].source == "004_1b3744d526457350.txt"
    for c in a.citations:
        text = (ROOT / "seeds" / c.source).read_text(encoding="utf-8")
        assert text[c.start:c.end] == c.text and f"[{c.n}]" in a.text
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    off = hash_engine.answer("Comment préparer une pâte à crêpes ?")
    assert off.abstained and off.citations == () and off.text.startswith("Les documents ne contiennent pas")
    assert off.verification.value == "quoted" and off.timings["total"] >= off.timings["retrieve"] > 0


@pytest.mark.parametrize("question, expected", [
    ("Which port does the print server use?", "quantity"),
    ("Quelle version du noyau est livrée ?", "quantity"),
    ("Dans quel répertoire APT garde-t-il les paquets ?", "path"),
    ("Where is the configuration file kept?", "path"),
    ("What is the largest file a FAT filesystem can hold?", None),
    ("Quelle commande arrête le système ?", "command"),
    ("What tool do stratigraphers use?", None),
    ("How is the checksum computed from the header?", "formula"),
    ("Comment calcule-t-on la taille du segment ?", "formula"),
    ("Who won the Formula One title?", "person"),  # formula comes last
    ("How are computed columns stored?", None),  # an adjective, not the question's verb
    ("Quelle formule d'abonnement choisir ?", None),
    ("Wie wird die Größe des Segments berechnet?", "formula"),
    ("Wie wird die Straße noch genannt?", None),
])
def test_answer_types_of_technical_questions(question, expected):
    from amqa.writers.extractive.sentences import expected_answer_type

    assert expected_answer_type(question) == expected


def test_a_formula_is_what_a_how_is_it_computed_question_asks_for():
    from amqa.writers.extractive.sentences import answer_marks, holds_answer_type

    line = "— MSS = MTU - 40 pour IPv4"
    assert holds_answer_type(line, "formula") and not holds_answer_type("Le MSS dépend du MTU.", "formula")
    assert [line[a:b] for a, b in answer_marks(line, 0, "formula")] == ["MSS = MTU - 40"]
    assert not holds_answer_type("https://example.org/?q=1&r=2", "formula")  # a URL's query, no equation
    line = "so x = 1.5 * y, and E = mc^2"
    assert [line[a:b] for a, b in answer_marks(line, 0, "formula")] == ["x = 1.5 * y", "E = mc^2"]


TABLE = """# Configuration du réseau

Les commandes net-tools sont obsolètes et remplacées par la suite iproute2. Voici une table de conversion des commandes obsolètes net-tools vers les nouvelles commandes iproute2 :

| net-tools obsolètes | nouveau iproute2 | manipulation |
|---|---|---|
| ifconfig(8) | ip addr | adresse de protocole |
| route(8) | ip route | table de routage |
| arp(8) | ip neigh | entrée de cache ARP |
| iptunnel | ip tunnel | tunnel sur IP |
| mii-tool(8) | ethtool(8) | réglages du périphérique Ethernet |

Consultez ip(8) et le Howto de la suite utilitaire IPROUTE2.
"""


@pytest.mark.parametrize("question, row", [
    ("Which iproute2 command replaces the obsolete route command?", "| route(8) | ip route | table de routage |"),
    ("What replaces the obsolete iptunnel command?", "| iptunnel | ip tunnel | tunnel sur IP |"),
])
def test_the_table_row_a_question_names_is_quoted_under_the_tables_caption(tmp_path, question, row):
    """Real model, English questions on a French table: the caption and the sentence before it score
    best, the row holding the question's own word ("route") is quoted too (sentences.cover)."""
    from amqa import Engine
    from amqa.writers.extractive.sentences import WriterConfig, compose

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "reseau.md").write_text(TABLE, encoding="utf-8")
    engine = Engine(tmp_path / "docs", tmp_path / "store", progress=False)
    quotes = [c.text for c in engine.answer(question).citations]
    assert any(row in q for q in quotes), quotes
    assert "iproute2" in quotes[0]  # the caption (or the sentence before it) still comes first
    without = compose(engine.search(question), engine.policy, config=WriterConfig(cover_margin=-1.0))
    assert not any(row in c.text for c in without.citations)  # without the rule the row is not quoted
