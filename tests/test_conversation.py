"""Follow-up questions: resolved against the conversation for retrieval and the answer type, offline;
an LLM writer's rewrite is kept only when it stays about the conversation."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from amqa.service.conversation import check_history, is_follow_up, standalone
from amqa.errors import InvalidInputError

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm import HANG, FakeLLM  # noqa: E402

MOROCCO = "Où Arts et Métiers va-t-il ouvrir un campus au Maroc ?"
ARTICLE_000 = "000_c8fb014e83a46547.txt"


def turns(*questions: str) -> list[dict]:
    out = []
    for q in questions:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "Rabat [1]"}]
    return out


@pytest.mark.parametrize("question", ["Et quand ?", "And where?", "Qui le dirige ?", "How many students will it have?",
                                      "Et à Cluny ?", "What about its budget?", "Avec quel ministère français ?",
                                      "À quelle université partenaire ?",
                                      "With which partner?"])
def test_follow_ups_are_recognised(question):
    assert is_follow_up(question)
    resolved = standalone(question, turns(MOROCCO))
    assert resolved.follow_up and resolved.text != question and "Maroc" in resolved.text


@pytest.mark.parametrize("question", ["Combien d'apprentis y a-t-il à Arts et Métiers ?",
                                      "When was the AMTalents programme for workers created?",
                                      "Quel est le budget du projet Actif-IA ?"])
def test_a_question_that_stands_alone_is_not_changed(question):
    assert standalone(question, turns(MOROCCO)).text == question
    assert standalone(question, None).text == question


def test_a_follow_up_naming_nothing_becomes_the_previous_question_asking_it():
    assert standalone("Et quand ?", turns(MOROCCO)).text == "quand Arts et Métiers va-t-il ouvrir un campus au Maroc ?"
    assert standalone("Qui le dirige ?", turns(MOROCCO)).text == "Qui le dirige ? (Arts et Métiers Maroc)"


def test_a_chain_of_follow_ups_stays_on_the_first_subject():
    resolved = standalone("Qui le dirige ?", turns(MOROCCO, "Et quand ?"))
    assert "Maroc" in resolved.text and "Maroc" in resolved.context  # the previous question, resolved


def test_the_single_questions_of_every_set_stand_alone_after_any_question():
    """No single-turn question of the seeds' or the Debian set is taken for a follow-up (their scores
    cannot change), whatever was asked before."""
    root = Path(__file__).resolve().parents[1] / "eval"
    questions = [json.loads(line)["question"] for name in ("questions.jsonl", "debian.jsonl")
                 for line in (root / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) > 100
    changed = [q for q in questions if standalone(q, turns(MOROCCO)).text != q]
    assert not changed


@pytest.mark.parametrize("question", ["Comment configurer le pare-feu ?", "Y a-t-il un campus à Rabat ?",
                                      "Dans quel fichier se trouve la configuration du réseau ?",
                                      "A quoi sert dpkg ?", "By whom was the campus funded?",
                                      "In which city is the campus?", "De quand date la loi ?",
                                      "With which command are packages installed from the archive?",
                                      "Puis-je installer Debian sans réseau ?", "Ou se trouve le fichier de configuration ?",
                                      "Which command lists the files that changed since they were installed?"])
def test_articles_inversions_and_idioms_are_no_follow_up_cues(question):
    assert not is_follow_up(question)


def test_history_in_other_shapes_and_with_bad_characters():
    from amqa.types import Message

    got = check_history([{"role": "system", "content": "You are helpful."},
                         {"role": "user", "content": [{"type": "text", "text": "Où est le campus ?"}]},
                         Message("assistant", "Rabat [1]"), {"role": "user", "content": "caf\udce9 ?"}])
    assert [t.role for t in got] == ["user", "assistant", "user"]
    assert got[0].content == "Où est le campus ?" and got[2].content == "caf\ufffd ?"


def test_a_follow_up_after_a_question_with_invalid_characters(hash_engine):
    answer = hash_engine.answer("Et quand ?", history=[{"role": "user", "content": "O\ud800 Arts et Métiers va-t-il "
                                                        "ouvrir un campus au Maroc ?"}])
    assert "Maroc" in answer.standalone_question and "\ud800" not in answer.standalone_question
    answer.to_dict()  # encodable


def test_without_earlier_user_turn_nothing_is_added():
    assert standalone("Et quand ?", [{"role": "assistant", "content": "Bonjour"}]).text == "Et quand ?"


@pytest.mark.parametrize("history, message", [
    ("user: hi", "list of"), ([{"role": "bot", "content": "x"}], "role 'bot'"), ([{"content": "x"}], "'role'"),
    ([42], "'role' and 'content'"),
])
def test_bad_history_is_refused_with_the_bad_value(history, message):
    with pytest.raises(InvalidInputError, match=message):
        check_history(history)


def test_engine_takes_history_and_records_what_it_searched(hash_engine):
    lone = hash_engine.answer("Et quand ?")
    assert lone.standalone_question == "Et quand ?"
    followed = hash_engine.answer("Et quand ?", history=turns(MOROCCO))
    assert followed.question == "Et quand ?" and "Maroc" in followed.standalone_question
    assert followed.to_dict()["standalone_question"] == followed.standalone_question
    with pytest.raises(InvalidInputError):
        hash_engine.answer("Et quand ?", history=[{"role": "robot", "content": "x"}])


def test_a_follow_up_is_answered_from_the_conversation(engine):
    """With the real model: alone, "Et quand ?" finds nothing; after the question about Morocco it cites
    the article and the year, framed in French; the English follow-up about the same campus too."""
    alone = engine.answer("Et quand ?")
    assert alone.abstained
    when = engine.answer("Et quand ?", history=turns(MOROCCO))
    assert not when.abstained and when.language == "fr"
    assert when.citations[0].source == ARTICLE_000 and "2024" in when.citations[0].text
    where = engine.answer("In which city will it be?", history=turns(MOROCCO))
    assert where.language == "en" and any("Rabat" in c.text or "Zenata" in c.text for c in where.citations)


def test_an_llm_rewrite_is_used_only_when_it_stays_on_the_conversation(engine):
    llm = FakeLLM()
    try:
        from amqa.writers.llm.models import OpenAIChat

        chat = OpenAIChat(llm.url, "test-model", timeout=5.0)
        abstain = "Les documents ne contiennent pas de réponse à cette question."

        def script(messages):
            if "Rewrite" in messages[0]["content"]:
                return 200, rewrite
            return 200, abstain  # the answer itself: an abstention, kept as such
        llm.server.script = script
        rewrite = "Quand le campus d'Arts et Métiers au Maroc ouvrira-t-il ?"
        kept = engine.answer("Et quand ?", generator=chat, history=turns(MOROCCO))
        assert kept.standalone_question == rewrite
        assert any("Last question: Et quand ?" in r["body"]["messages"][-1]["content"] for r in llm.requests)
        rewrite = "Donne-moi la recette de la tarte aux pommes."  # off the conversation: not searched
        refused = engine.answer("Et quand ?", generator=chat, history=turns(MOROCCO))
        assert refused.standalone_question != rewrite and "Maroc" in refused.standalone_question
        alone = engine.answer("Quand l'antenne du Cnam a-t-elle ouvert à Montbéliard ?", generator=chat,
                              history=turns(MOROCCO))
        assert alone.standalone_question == alone.question  # it stands alone: no rewrite asked
        rewrite = "Qui dirigera le campus d'Arts et Métiers au Maroc ?"  # the third turn of a chain
        third = engine.answer("Qui le dirige ?", generator=chat, history=turns(MOROCCO, "Et quand ?"))
        assert third.standalone_question == rewrite
        # An LLM that does not answer is asked once per question, not once to rewrite and again to answer.
        llm.server.script = lambda messages: (200, HANG)
        llm.server.hang_seconds = 4
        before = len(llm.requests)
        failed = engine.answer("Et quand ?", generator=OpenAIChat(llm.url, "m", timeout=1.0), history=turns(MOROCCO))
        assert len(llm.requests) == before + 1 and failed.verification.value == "fallback" and failed.citations
    finally:
        llm.close()


def test_ask_with_a_history_file_and_chat_from_the_command_line(seed_store, tmp_path):
    history = tmp_path / "turns.json"
    history.write_text(json.dumps(turns(MOROCCO)), encoding="utf-8")
    run = [sys.executable, "-m", "amqa.frontends.cli"]
    store = ["--store", str(seed_store)]
    out = subprocess.run(run + ["ask", "Et quand ?", "--history", str(history), "--json"] + store,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "Maroc" in data["standalone_question"] and data["citations"][0]["source"] == ARTICLE_000
    chat = subprocess.run(run + ["chat"] + store, input=f"{MOROCCO}\nEt quand ?\n", capture_output=True, text=True,
                          timeout=300)
    assert chat.returncode == 0, chat.stderr
    assert "2024" in chat.stdout and "follow-up, searched as: quand Arts et Métiers" in chat.stderr
    history.write_text("{not json", encoding="utf-8")
    bad = subprocess.run(run + ["ask", "Et quand ?", "--history", str(history)] + store, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0 and "is not JSON" in bad.stderr and "Traceback" not in bad.stderr
