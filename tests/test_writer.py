"""The extractive writer's rules on small, hand-made inputs and the hash embedder (fast); the real
model judges quality in test_answer.py and the evaluation."""
import dataclasses
from pathlib import Path

import pytest

import amqa.writers.extractive.sentences as sentences
from amqa import Engine, Outcome
from amqa.writers.extractive.sentences import Evidence, WriterConfig, answer_marks, is_code, refers_back, widen
from amqa.ingest.chunking import chunk_document
from amqa.text import tokenize
from amqa.types import Document

ROOT = Path(__file__).resolve().parents[1]


def one_chunk(text: str, lang: str = "fr"):
    return chunk_document(Document("doc.txt", "doc", text, lang, "0"))[0]


def evidence(chunk, sentence: str, typed: bool = False) -> Evidence:
    start = chunk.text.index(sentence) + chunk.start
    return Evidence(chunk.source, chunk.id, start, start + len(sentence), sentence, 0.9, 0.9, 0.1, typed)


def widened(chunk, e, answer_type=None) -> str:
    """The text :func:`widen` quotes for ``e``."""
    start, end = widen(e, chunk, answer_type)
    return chunk.text[start - chunk.start:end - chunk.start]


def test_a_sentence_that_refers_back_takes_the_one_before():
    chunk = one_chunk("Le paquet apt-listchanges lit les journaux. Ce logiciel affiche les changements avant "
                      "une mise à jour. Autre chose ici.")
    e = evidence(chunk, "Ce logiciel affiche les changements avant une mise à jour.")
    assert widened(chunk, e).startswith("Le paquet apt-listchanges")
    e = evidence(chunk, "Autre chose ici.")  # leans on nothing: quoted alone
    assert widen(e, chunk, None) == (e.start, e.end)


def test_a_quote_takes_the_neighbour_that_holds_the_asked_item():
    chunk = one_chunk("The cache of downloaded packages grows over time. It is kept in the directory below. "
                      "The folder /var/cache/apt/archives/ holds it.", "en")
    e = evidence(chunk, "The cache of downloaded packages grows over time.")
    assert widened(chunk, e, "path") == "The cache of downloaded packages grows over time."
    e = evidence(chunk, "It is kept in the directory below.")
    assert widened(chunk, e, "path") == chunk.text  # refers back, and the next sentence holds the path


def test_a_definition_is_quoted_with_its_term():
    # The French PDF's definition lists: each term on its own dashed line, its definition on the next.
    chunk = one_chunk("— « Depends »\n— Cela déclare une dépendance absolue.\n— « Pre-Depends »\n"
                      "— Comme pour « Depends » excepté que cela demande une installation complète.")
    e = evidence(chunk, "— Comme pour « Depends » excepté que cela demande une installation complète.")
    assert widened(chunk, e).startswith("— « Pre-Depends »\n— Comme pour")
    # After a sentence, no term: the dashed sentence is quoted alone.
    after = one_chunk("Une dépendance se déclare dans le fichier control.\n"
                      "— Comme pour « Depends » excepté que cela demande une installation complète.")
    e = evidence(after, "— Comme pour « Depends » excepté que cela demande une installation complète.")
    assert widen(e, after, None) == (e.start, e.end)
    # A sentence before it is no term, nor is a list item that is a sentence or a fact of its own.
    assert not sentences.is_term("— Cela déclare une dépendance absolue.") and not sentences.is_term("Pre-Depends")
    assert sentences.is_term("- `Depends`") and not sentences.is_term("- Licence professionnelle robotique")
    items = one_chunk("Places ouvertes :\n- Licence à Bordeaux : 48 places\n- Master à Rabat, avec 30 places par an.")
    assert quoted(items, ["- Master à Rabat, avec 30 places par an."], "quantity") == [
        "- Master à Rabat, avec 30 places par an."]


def test_a_headline_holding_the_asked_item_is_not_penalised():
    f = dict.fromkeys(sentences.FEATURES, 0.0) | {"dense": 0.9, "headline": 1.0}
    title = sentences.hand_score(f)
    holding = sentences.hand_score(f | {"typed": 1.0})  # "“dash -n script.sh” - Syntax check" for a command
    default = WriterConfig()
    assert holding - title == pytest.approx(default.answer_type_bonus + default.headline_penalty)
    line = f | {"headline": 0.0}
    assert title < sentences.hand_score(line)  # an untyped title loses the penalty ...
    no_penalty = dataclasses.replace(default, headline_penalty=0.0)
    assert sentences.hand_score(f, no_penalty) == sentences.hand_score(line, no_penalty)  # ... which a config can lift


def quoted(chunk, texts, answer_type=None):
    chosen = [evidence(chunk, s, sentences.holds_answer_type(s, answer_type)) for s in texts]
    return [c.text for c in sentences.cite(chosen, [chunk], answer_type, frozenset())]


def test_a_quote_never_repeats_an_earlier_ones_words():
    chunk = one_chunk("L'école forme 900 élèves ingénieurs chaque année. Elle signe une convention avec Arts et "
                      "Métiers. Autre chose.")
    # The second sentence refers back to the first, quoted already: it is quoted alone.
    assert quoted(chunk, ["L'école forme 900 élèves ingénieurs chaque année.",
                          "Elle signe une convention avec Arts et Métiers."]) == [
        "L'école forme 900 élèves ingénieurs chaque année.", "Elle signe une convention avec Arts et Métiers."]
    # A sentence inside an earlier quote is dropped, and the numbers stay 1, 2, ...
    assert quoted(chunk, ["Elle signe une convention avec Arts et Métiers.",
                          "L'école forme 900 élèves ingénieurs chaque année.", "Autre chose."]) == [
        "L'école forme 900 élèves ingénieurs chaque année. Elle signe une convention avec Arts et Métiers.",
        "Autre chose."]


def test_a_quote_keeps_the_line_it_announces_when_the_one_before_is_quoted_already():
    chunk = one_chunk("Le paquet apt-listchanges lit les journaux des paquets. Ce paquet s'installe avec la "
                      "commande suivante :\n$ sudo apt install apt-listchanges\nFin.")
    texts = quoted(chunk, ["Le paquet apt-listchanges lit les journaux des paquets.",
                           "Ce paquet s'installe avec la commande suivante :"])
    assert texts[1] == "Ce paquet s'installe avec la commande suivante :\n$ sudo apt install apt-listchanges"


def test_a_sentence_announcing_the_next_line_in_words_is_quoted_with_it():
    chunk = one_chunk("Configure the packages left half done with the following command.\n# dpkg --configure -a\n"
                      "Then run the upgrade again.", "en")
    e = evidence(chunk, "Configure the packages left half done with the following command.")
    assert widened(chunk, e) == "Configure the packages left half done with the following command.\n# dpkg --configure -a"
    plain = one_chunk("Configure the packages left half done with this command.\n# dpkg --configure -a\n"
                      "Then run the upgrade again.", "en")
    e = evidence(plain, "Configure the packages left half done with this command.")
    assert widened(plain, e) == e.text  # announces nothing
    assert sentences.announces("Procédez comme suit.") and sentences.announces("Führen Sie folgenden Befehl aus.")
    assert not sentences.announces("It follows the rules.") and not sentences.announces("Il revint l'année suivante.")
    assert not sentences.announces("He won the following season.") and not sentences.announces("Is it below?")


def test_a_sentence_whose_neighbour_holds_the_asked_item_ranks_a_little_higher():
    f = dict.fromkeys(sentences.FEATURES, 0.0) | {"dense": 0.85}
    gain = sentences.hand_score(f | {"neighbour_typed": 1.0}) - sentences.hand_score(f)
    default = WriterConfig()
    assert gain == pytest.approx(default.neighbour_type_bonus) and 0 < gain < default.answer_type_bonus
    off = dataclasses.replace(default, neighbour_type_bonus=0.0)
    assert sentences.hand_score(f | {"neighbour_typed": 1.0}, off) == sentences.hand_score(f, off)


def test_code_lines_and_prose():
    assert is_code("$ ls -li bar") and is_code("# losetup -d /dev/loop0")
    assert is_code('set_var EASYRSA_REQ_CITY "Saint-Étienne"')
    assert not is_code("Most normal programs don't need kernel headers.")
    assert refers_back("It is kept there.") and refers_back("Ce logiciel recompile.") and not refers_back("Italy.")


def test_marks_point_at_what_was_asked():
    t = "The MoU was signed on Thursday, April 12, 2018 in Casablanca by 3 presidents."
    assert [t[a:b] for a, b in answer_marks(t, 0, "date")] == ["April 12, 2018"]
    assert [t[a:b] for a, b in answer_marks(t, 0, "place")] == ["Casablanca"]
    t = "Downloaded packages are kept in /var/cache/apt/archives/ until apt-get clean."
    assert [t[a:b] for a, b in answer_marks(t, 0, "path")] == ["/var/cache/apt/archives/"]
    assert answer_marks(t, 0, None) == ()
    t = "He came with Nadège Troussier, Vice President, and Coline Moal Vignon, Director of AMTalents."
    tokens = frozenset(tokenize("Who is the director of AMTalents?", "en"))
    assert [t[a:b] for a, b in answer_marks(t, 0, "person", tokens)] == ["Coline Moal Vignon"]


@pytest.fixture
def engine(docs_copy, tmp_path):
    return Engine(docs_copy, tmp_path / "store", "hash", progress=False)


def test_outcomes_answered_and_nothing_found(engine):
    a = engine.answer("Combien d'entreprises compte le bassin de Montbéliard ?")
    assert a.outcome is Outcome.ANSWERED and not a.abstained
    c = a.citations[0]
    assert [c.text[s - c.start:e - c.start] for s, e in c.marks] == ["2.900"]
    assert "**2.900** entreprises" in a.marked_text() and "**" not in a.text
    d = a.to_dict()
    assert d["outcome"] == "answered" and d["citations"][0]["marks"] == [list(m) for m in c.marks]
    off = engine.answer("Comment préparer une pâte à crêpes ?")
    assert off.outcome is Outcome.NOTHING_FOUND and off.abstained and off.citations == ()


def test_related_only_still_cites_and_says_so_in_the_question_language(engine):
    question = "Combien d'entreprises compte le bassin de Montbéliard ?"
    engine.policy = dataclasses.replace(engine.policy, answer_above=0.99)  # nothing is close enough
    a = engine.answer(question)
    assert a.outcome is Outcome.RELATED_ONLY and a.abstained and a.citations
    assert a.text.startswith("Les documents ne le disent pas directement")
    engine.policy = dataclasses.replace(engine.policy, answer_above=None)
    assert engine.answer(question).outcome is Outcome.ANSWERED


def test_a_new_policy_reaches_the_llm_verifier_too(engine):
    engine.answer("Metz ?")  # loaded
    engine.policy = dataclasses.replace(engine.policy, support_dense=0.99)
    assert engine.verifier.policy.support_dense == 0.99


def test_one_more_quote_brings_the_question_words_the_others_lack():
    def ev(text: str, score: float, words: tuple[tuple[str, float], ...], source: str = "a.md",
           typed: bool = False) -> Evidence:
        return Evidence(source, source + "#0", 0, len(text), text, score, score, 0.0, typed, matched=words)

    caption = ev("Voici la table de conversion vers les commandes iproute2 :", 0.92, (("iproute2", 0.4),))
    header = ev("net-tools obsolètes nouveau iproute2", 0.91, (("iproute2", 0.4),))
    row = ev("arp(8) ip neigh entrée de cache ARP", 0.84, (("arp", 0.3),))
    title = ev("Le cache ARP", 0.85, (("arp", 0.3),))
    elsewhere = ev("The arp command is obsolete.", 0.86, (("arp", 0.3),), source="b.md")
    both = ev("arp(8) ip neigh, entrée de cache ARP et NDISC", 0.83, (("arp", 0.3), ("ndisc", 0.2)))
    ranked = [caption, header, elsewhere, title, row, both]
    chosen = sentences.select_sentences(ranked)
    assert chosen == [caption, header]
    # Rows holding "arp", which no quote does, the one bringing more first; a headline and another file's
    # sentence are not taken.
    assert sentences.cover(chosen, ranked) == [both, row]
    assert sentences.cover([caption], [caption, dataclasses.replace(title, typed=True)]) != []  # holds the asked type
    assert sentences.cover([caption, both], ranked) == []  # nothing left to bring
    assert sentences.cover([caption], [caption, dataclasses.replace(row, score=0.81)]) == []  # too far behind
    weak = dataclasses.replace(row, matched=(("de", 0.01),))
    assert sentences.cover([caption], [caption, weak]) == []  # a word worth little
    assert sentences.cover(chosen, ranked, WriterConfig(cover_margin=-1.0)) == []  # the rule off


def test_the_covering_quote_is_the_first_spare_not_quoted_already():
    chunk = one_chunk("La taille maximale de segment se calcule comme suit.\n— MSS = MTU - 40 pour IPv4\n"
                      "— MSS = MTU - 60 pour IPv6\nFin.")
    first = evidence(chunk, "La taille maximale de segment se calcule comme suit.")
    inside = evidence(chunk, "— MSS = MTU - 40 pour IPv4")  # the first quote takes it along (it is announced)
    other = evidence(chunk, "— MSS = MTU - 60 pour IPv6")
    texts = [c.text for c in sentences.cite([first], [chunk], None, frozenset(), spares=[inside, other])]
    assert texts == ["La taille maximale de segment se calcule comme suit.\n— MSS = MTU - 40 pour IPv4",
                     "— MSS = MTU - 60 pour IPv6"]
    # One spare at most.
    assert len(sentences.cite([first], [chunk], None, frozenset(), spares=[other, inside])) == 2


def test_a_writer_config_changes_what_is_selected():
    def ev(text: str, score: float) -> Evidence:
        return Evidence("a.md", "a.md#0", 0, len(text), text, score, score, 0.0)

    ranked = [ev("Best.", 0.90), ev("Close.", 0.895), ev("Close too.", 0.89), ev("Far.", 0.70)]
    assert len(sentences.select_sentences(ranked)) == WriterConfig().max_sentences == 3  # within the margins
    assert sentences.select_sentences(ranked, WriterConfig(max_sentences=1)) == ranked[:1]
    assert sentences.select_sentences(ranked, WriterConfig(max_sentences=4)) == ranked[:3]  # "Far." too far
    assert sentences.select_sentences(ranked, WriterConfig(max_sentences=4, same_source_margin=0.2)) == ranked


def test_a_writer_config_changes_what_is_quoted(engine):
    # compose without a config is compose with the default one; with margins wide enough for any sentence
    # it quotes several, and one with max_sentences=1 (and no covering quote).
    result = engine.search("Combien d'entreprises compte le bassin de Montbéliard ?")
    default = sentences.compose(result, engine.policy)
    same = sentences.compose(result, engine.policy, config=WriterConfig())
    assert (same.text, same.citations) == (default.text, default.citations) and default.citations
    wide = WriterConfig(same_source_margin=1.0, second_sentence_margin=1.0, cover_margin=-1.0)
    several = sentences.compose(result, engine.policy, config=wide).citations
    one = sentences.compose(result, engine.policy, config=dataclasses.replace(wide, max_sentences=1)).citations
    assert len(several) > len(one) == 1 and one[0].text == several[0].text == default.citations[0].text


@pytest.mark.parametrize("field, value, message", [
    ("max_sentences", 0, "max_sentences must be a whole number >= 1, got 0"),
    ("search_depth", 2.0, "search_depth must be a whole number >= 1, got 2.0"),
    ("max_marks", -1, "max_marks must be a whole number >= 0, got -1"),
    ("max_marks", True, "max_marks must be a whole number >= 0, got True"),
    ("lexical_weight", float("nan"), "lexical_weight must be a finite number >= 0, got nan"),
    ("headline_penalty", -0.06, "headline_penalty must be a finite number >= 0, got -0.06"),
    ("cover_min_gain", "0.05", "cover_min_gain must be a finite number >= 0, got '0.05'"),
    ("cover_margin", float("inf"), "cover_margin must be a finite number, got inf"),
    ("code_penalty", -0.02, "code_penalty must be a finite number >= 0, got -0.02"),
    ("code_alone_related", 1, "code_alone_related must be True or False, got 1"),
    ("same_source_margin", None, "same_source_margin must be a finite number, got None"),
])
def test_a_writer_config_refuses_bad_values(field, value, message):
    with pytest.raises(ValueError) as caught:
        WriterConfig(**{field: value})
    assert str(caught.value) == message
    with pytest.raises(ValueError):
        dataclasses.replace(WriterConfig(), **{field: value})


def test_a_writer_config_is_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        WriterConfig(0.1)  # keyword-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        WriterConfig().max_sentences = 2
    assert WriterConfig(cover_margin=-1.0).cover_margin == -1.0  # a negative margin turns the covering quote off
