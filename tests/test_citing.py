"""amqa cites for the LLM: each sentence of a draft is attributed to the passage sentence that states it,
in any passage; words spread over a passage do not support a claim no sentence of it makes. Hits are
made by hand (their text invented here) and checked with the real embedder; the writer's path runs
against the fake OpenAI server and the command line."""
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amqa import Verification
from amqa.types import Chunk, Hit
from amqa.writers.llm.models import OpenAIChat
from amqa.writers.llm.verification import Basis, claim_names, claim_numbers

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm import FakeLLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"
ENSMM = "001_3c9c59b90a3a1c43.txt"

CAMPUS = ("Le site de Varennes accueille 8 laboratoires de recherche. Depuis 1994, l'école y forme des "
          "ingénieurs en alternance. Elle s'appuie aussi sur 3 instituts partenaires en Bourgogne.")
OTHER = "La bibliothèque du site ouvre du lundi au vendredi. Le restaurant universitaire sert 900 repas par jour."


def hit(text: str, n: int, language: str = "fr") -> Hit:
    return Hit(chunk=Chunk(f"doc{n}.txt#0", f"doc{n}.txt", 0, 0, len(text), text, "Doc", language), rank=n, score=1.0)


@pytest.fixture(scope="module")
def llm():
    server = FakeLLM()
    yield server
    server.close()


def test_a_claim_whose_numbers_and_words_are_spread_over_a_passage_is_not_supported(engine):
    verifier, hits = engine.verifier, [hit(OTHER, 1), hit(CAMPUS, 2)]
    # Every number and most words are in the passage, in different sentences: the claim is in none.
    assert verifier.attribute("Le site de Varennes compte 8 laboratoires et 3 instituts.", hits, "fr") is None
    found = verifier.attribute("Le site de Varennes accueille 8 laboratoires de recherche.", hits, "fr")
    assert found is not None and found.passage == 1, "searched in every passage, not only the first"
    assert CAMPUS[found.start:found.end] == "Le site de Varennes accueille 8 laboratoires de recherche."


def test_a_number_the_window_lacks_is_never_supported(engine):
    hits = [hit(CAMPUS, 1)]
    assert engine.verifier.attribute("Le site de Varennes accueille 9 laboratoires de recherche.", hits, "fr") is None
    assert engine.verifier.attribute("L'école y forme des ingénieurs en alternance depuis 1994.", hits, "fr") is not None


def test_an_english_sentence_is_supported_by_a_french_passage_by_meaning(engine):
    hits = [hit(OTHER, 1), hit(CAMPUS, 2)]
    found = engine.verifier.attribute("The Varennes site hosts 8 research laboratories.", hits, "en")
    assert found is not None and found.basis is Basis.MEANING and found.passage == 1
    assert engine.verifier.attribute("The Varennes site hosts 12 research laboratories.", hits, "en") is None


def test_a_claim_about_the_asked_subject_needs_a_passage_that_names_it(engine):
    # The passage says it of the school; the reply says it of the site the question asks about.
    school = hit("The school trains 6,000 students a year on 8 campuses and 3 institutes across France.", 1, "en")
    claim = "Le site de Varennes compte 8 campus et 3 instituts."
    assert engine.verifier.attribute(claim, [school], "fr", "Combien d'étudiants compte le site de Varennes ?") is None
    named = hit("Varennes is one of its sites. " + school.chunk.text, 1, "en")
    assert engine.verifier.attribute("The school has 8 campuses and 3 institutes.", [named], "en",
                                     "How many campuses does the school have?") is not None


def test_a_reply_about_another_subject_than_the_question_is_refused():
    from amqa.writers.llm.verification import Verifier

    assert not Verifier.names_subject("Et qui est à la tête de l'ENSMM ?", "Le directeur général d'Arts et Métiers est Laurent Carraro.", ())
    assert Verifier.names_subject("Et qui est à la tête de l'ENSMM ?", "Bernard Cretin dirige l'ENSMM [1].", ())
    assert Verifier.names_subject("Qui dirige l'école ?", "Bernard Cretin [1].", ())  # no name asked: no rule


def test_a_list_items_label_is_part_of_its_sentences_window(engine):
    text = ("— « Depends »\n— Les paquets listés doivent être installés en même temps ou avant.\n"
            "— « Pre-Depends »\n— Comme pour « Depends », mais les paquets cités sont installés entièrement avant.")
    found = engine.verifier.attribute("Avec Pre-Depends, les paquets cités sont installés entièrement avant.",
                                      [hit(text, 1)], "fr")
    assert found is not None and text[found.start:found.end].startswith("— « Pre-Depends »")


def test_names_must_be_in_the_supporting_sentence():
    assert claim_names("Le site de Varennes a-t-il ouvert avec apt-get ?") == {"varennes", "apt-get"}
    assert claim_numbers("Il y a 68 980 paquets pour amd64.") == {"68980", "64"}
    # Across languages only identifiers count: English capitalises months and titles, French does not.
    assert claim_names("He was then 1st Minister, in November, with sys.path.", capitalised=False) == {"sys.path"}


def source_number(messages, file: str) -> int:
    return int(re.search(rf'<source n="(\d+)" file="{re.escape(file)}">', messages[-1]["content"]).group(1))


def test_a_correct_sentence_without_marker_gets_amqas_citation(engine, llm):
    llm.reply("La convention a été signée le 18 février 2016.")
    answer = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5))
    assert answer.verification is Verification.VERIFIED, answer.verification_reason
    assert answer.text == "La convention a été signée le 18 février 2016 [1]."
    c = answer.citations[0]
    assert c.source == ENSMM and "18 février 2016" in c.text and c.text.startswith("Le 18 février 2016")
    assert (ROOT / "seeds" / ENSMM).read_text(encoding="utf-8")[c.start:c.end] == c.text


def test_a_marker_on_the_wrong_source_is_replaced_by_the_passage_that_states_it(engine, llm):
    def wrong(messages):
        n = source_number(messages, ENSMM)
        return 200, f"La convention a été signée le 18 février 2016 [{1 if n != 1 else 2}]."

    llm.server.script = wrong
    answer = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5))
    assert answer.verification is Verification.VERIFIED and answer.citations[0].source == ENSMM


def test_an_unsupported_sentence_fails_the_draft_or_is_dropped_by_policy(engine, llm):
    llm.reply("La convention a été signée le 18 février 2016. Elle a coûté 4 000 000 euros aux deux écoles.")
    answer = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5))
    assert answer.verification is Verification.FALLBACK and "1 of 2 sentence(s) not supported" in answer.verification_reason
    assert "4 000 000" not in answer.text
    policy = engine.policy
    try:
        engine.policy = dataclasses.replace(policy, drop_unsupported=True)
        answer = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5))
        assert answer.verification is Verification.VERIFIED and "dropped" in answer.verification_reason
        assert answer.text == "La convention a été signée le 18 février 2016 [1]."
        llm.reply("Elle a coûté 4 000 000 euros aux deux écoles.")  # nothing left to show: the draft fails
        assert engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5)).verification is Verification.FALLBACK
    finally:
        engine.policy = policy


def test_a_date_asked_needs_a_date_in_the_reply():
    from amqa.writers.llm.verification import Verifier

    assert not Verifier.holds_asked_type("En quelle année l'école a-t-elle ouvert ?", "L'école a ouvert [1].")
    assert Verifier.holds_asked_type("En quelle année l'école a-t-elle ouvert ?", "En 1780 [1].")
    assert Verifier.holds_asked_type("Combien d'élèves ?", "Neuf cents élèves [1].")
    assert Verifier.holds_asked_type("Why does it fail when I run it?", "Because the file is missing [1].")


def test_a_stream_cut_before_its_end_is_not_shown(engine, llm):
    llm.reply("La convention a été signée")
    llm.server.cut_stream = True
    try:
        answer = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "m", timeout=5))
    finally:
        llm.server.cut_stream = False
    assert answer.verification is Verification.FALLBACK and "without finishing it" in answer.verification_reason
    llm.reply("La convention a été signée le 18 février 2016.")
    whole = OpenAIChat(llm.url, "m", timeout=5, stream=False)
    assert list(whole.reply_stream([{"role": "user", "content": "?"}])) == ["La convention a été signée le 18 février 2016."]
    assert llm.requests[-1]["body"]["stream"] is False


def test_ask_cites_a_reply_without_markers_from_the_command_line(seed_store, llm):
    llm.reply("La convention a été signée le 18 février 2016.")
    r = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", QUESTION, "--store", str(seed_store),
                        "--generator", "openai", "--base-url", llm.url, "--model", "m", "--json"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["verification"] == "verified" and out["answer"].endswith("2016 [1].")
    assert out["citations"][0]["source"] == ENSMM and "18 février 2016" in out["citations"][0]["text"]
