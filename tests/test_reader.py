"""The LLM as a reader (--reader llm): a yes/no on the extractive answer's passage, against a real
loopback HTTP server with scripted replies (tests/fake_llm.py). The real llama.cpp server: tests/test_real_llm.py."""
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from amqa import Outcome, Verification
from amqa.errors import InvalidInputError
from amqa.evaluation import evaluate
from amqa.settings import Settings
from amqa.types import ReaderVerdict
from amqa.writers.extractive.sentences import RELATED_FRAMES, quoted_text
from amqa.writers.llm.models import OpenAIChat
from amqa.writers.reader import LLMReader, Passage, ReaderConfig, get_reader, passage_of, reader_messages

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm import HANG, FakeLLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "En quelle année la convention entre l'ENSMM et Arts et Métiers a-t-elle été signée ?"
ENSMM = "001_3c9c59b90a3a1c43.txt"
OFF_TOPIC = "Quelle est la vitesse de la lumière dans le vide ?"


def is_reader(messages) -> bool:
    return messages[0]["content"].startswith("You check whether a passage answers")


@pytest.fixture(scope="module")
def llm():
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture
def reading(engine, llm):
    """The session's real engine with an LLM reader on the fake server (timeout 2 s), taken off after."""
    def use(timeout=2.0, url=None, config=None):
        engine.pipeline.reader = LLMReader(OpenAIChat(url or llm.url, "reader-model", timeout=timeout, max_tokens=4,
                                                      stream=False),
                                           config)
        return engine
    yield use
    engine.pipeline.reader = None


def replies(llm, reader: str, writer: str = "") -> None:
    llm.server.script = lambda m: (200, reader if is_reader(m) else writer)


def test_yes_keeps_the_answer_and_records_the_verdict_and_its_time(engine, reading, llm):
    plain = engine.answer(QUESTION)
    assert plain.outcome is Outcome.ANSWERED and plain.reader is None and "read" not in plain.timings
    replies(llm, "Yes.")
    asked = len(llm.requests)
    answer = reading().answer(QUESTION)
    assert len(llm.requests) == asked + 1
    assert answer.reader is ReaderVerdict.STATES and answer.outcome is Outcome.ANSWERED
    assert answer.text == plain.text and answer.citations == plain.citations
    assert 0 < answer.timings["read"] <= answer.timings["total"]
    body = llm.requests[-1]["body"]
    assert body["model"] == "reader-model" and body["max_tokens"] == 4 and body["stream"] is False
    prompt = body["messages"][-1]["content"]
    assert QUESTION in prompt and plain.citations[0].quote in prompt
    assert answer.to_dict()["reader"] == "states"


def test_no_turns_the_answer_into_related_passages_framed_as_the_extractive_writer_does(engine, reading, llm):
    plain = engine.answer(QUESTION)
    replies(llm, "No")
    answer = reading().answer(QUESTION)
    assert answer.reader is ReaderVerdict.DOES_NOT and answer.outcome is Outcome.RELATED_ONLY and answer.abstained
    assert answer.citations == plain.citations
    assert answer.text == quoted_text(plain.citations, "fr", Outcome.RELATED_ONLY)
    assert answer.text.startswith(RELATED_FRAMES["fr"]) and not answer.text.startswith(plain.text[:10])
    english = reading().answer("In which year was the agreement between ENSMM and Arts et Métiers signed?")
    assert english.outcome is Outcome.RELATED_ONLY and english.text.startswith(RELATED_FRAMES["en"])


@pytest.mark.parametrize("reply", ["Peut-être, le passage parle d'une convention.", "", "The passage"])
def test_a_reply_neither_yes_nor_no_leaves_the_answer_as_it_is(engine, reading, llm, reply):
    plain = engine.answer(QUESTION)
    replies(llm, reply)
    answer = reading().answer(QUESTION)
    assert answer.reader is ReaderVerdict.UNKNOWN
    assert (answer.text, answer.outcome, answer.citations) == (plain.text, plain.outcome, plain.citations)


def test_a_hanging_llm_is_cut_off_at_the_reader_timeout_and_the_answer_shown_as_it_is(engine, reading, llm):
    plain = engine.answer(QUESTION)
    llm.server.hang_seconds = 5
    replies(llm, HANG)
    t0 = time.perf_counter()
    answer = reading(timeout=1.0).answer(QUESTION)
    seconds = time.perf_counter() - t0
    assert answer.reader is ReaderVerdict.UNKNOWN and answer.text == plain.text
    assert 1.0 <= answer.timings["read"] < 2.5 and seconds < 4


def test_an_llm_that_is_down_leaves_the_answer_as_it_is(engine, reading):
    plain = engine.answer(QUESTION)
    answer = reading(url="http://127.0.0.1:9/v1").answer(QUESTION)
    assert answer.reader is ReaderVerdict.UNKNOWN and answer.text == plain.text
    assert answer.outcome is Outcome.ANSWERED and answer.timings["read"] < 2


def test_what_is_not_an_extractive_answer_is_not_read(engine, reading, llm):
    replies(llm, "No", writer="Les documents ne contiennent pas de réponse à cette question.")
    reading()
    asked = len(llm.requests)
    nothing = engine.answer(OFF_TOPIC)
    assert nothing.outcome is Outcome.NOTHING_FOUND and nothing.reader is None
    assert len(llm.requests) == asked, "nothing found: nothing to read"
    # A verified LLM answer is not read again.
    llm.server.script = lambda m: (200, "No" if is_reader(m) else "La convention a été signée le 18 février 2016 [%d]."
                                   % int(re.search(rf'<source n="(\d+)" file="{ENSMM}">', m[-1]["content"]).group(1)))
    verified = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "writer-model", timeout=5))
    assert verified.verification is Verification.VERIFIED and verified.reader is None
    assert verified.outcome is Outcome.ANSWERED
    assert [is_reader(r["body"]["messages"]) for r in llm.requests[asked:]] == [False]


def test_an_llm_writers_fallback_to_the_extractive_answer_is_read(engine, reading, llm):
    replies(llm, "no", writer="Elle a été signée en 2016.")  # no [n]: the draft fails, the quotes are shown
    answer = reading().answer(QUESTION, generator=OpenAIChat(llm.url, "writer-model", timeout=5))
    assert answer.verification is Verification.FALLBACK and answer.reader is ReaderVerdict.DOES_NOT
    assert answer.outcome is Outcome.RELATED_ONLY and answer.text.startswith(RELATED_FRAMES["fr"])


def test_the_passages_the_reader_can_be_shown(engine):
    answer = engine.answer(QUESTION)
    first = answer.citations[0]
    quotes = passage_of(answer, ReaderConfig(passage=Passage.QUOTES))
    around = passage_of(answer, ReaderConfig(passage=Passage.NEIGHBOURS))
    chunk = passage_of(answer, ReaderConfig(passage=Passage.CHUNK))
    assert quotes.startswith(f"[1] {first.quote}")
    assert first.quote in around and len(around) <= len(chunk) + 1
    assert len(passage_of(answer, ReaderConfig(passage=Passage.CHUNK, max_passage_chars=50))) == 50
    fenced = reader_messages(QUESTION, "fr", "x </passage> y")[-1]["content"]
    assert fenced.count("</passage>") == 1, "a passage cannot close its own fence"


def test_evaluation_records_the_verdict_per_question(engine, reading, llm):
    replies(llm, "No")
    reading()
    report = evaluate(engine, [
        {"id": "a", "question": QUESTION, "sources": [ENSMM], "answerable": True, "key_facts": [["2016"]],
         "answer": "2016", "type": "factoid", "language": "fr", "cross_lingual": False, "history": []},
        {"id": "b", "question": OFF_TOPIC, "sources": [], "answerable": False, "key_facts": [], "answer": "",
         "type": "unanswerable", "language": "fr", "cross_lingual": False, "history": []}])
    a, b = report["questions"]
    assert a["reader"] == "does_not" and a["outcome"] == "related" and a["answered_before_reader"]
    assert a["key_fact_before_reader"] == 1.0 and a["key_fact_recall"] == 0.0 and a["read_seconds"] > 0
    assert b["reader"] is None and b["read_seconds"] is None and not b["answered_before_reader"]
    s = report["summary"]
    assert (s["reader_read"], s["reader_moved"], s["answerable_moved"]) == (1, 1, 1.0)
    assert s["key_fact_before_reader"] == 1.0 and s["key_fact_recall"] == 0.0


def test_reader_settings_flags_and_errors(llm, monkeypatch):
    s = Settings.from_env({"AMQA_READER": "llm", "AMQA_READER_TIMEOUT": "3.5"})
    assert (s.reader, s.reader_timeout) == ("llm", 3.5) and Settings.from_env({}).reader == "none"
    with pytest.raises(InvalidInputError, match="reader must be one of none, llm"):
        Settings.from_env({"AMQA_READER": "yes"})
    with pytest.raises(InvalidInputError, match="reader timeout must be a positive"):
        Settings.from_env({"AMQA_READER_TIMEOUT": "0"})
    with pytest.raises(InvalidInputError, match="--base-url URL and --model NAME"):
        get_reader(Settings.from_env({"AMQA_READER": "llm"}))
    assert get_reader(Settings.from_env({})) is None
    reader = get_reader(s.replace(base_url=llm.url, model="m"))
    assert isinstance(reader, LLMReader) and reader.model.deadline == 3.5 and reader.model.max_tokens == 4
    assert reader.model.stream is False, "a whole reply: a llama-cpp-python stream can end early"


def test_reader_from_the_command_line(seed_store, llm, tmp_path):
    replies(llm, "Non.")
    record = tmp_path / "replies.jsonl"
    r = subprocess.run([sys.executable, "-m", "amqa.frontends.cli", "ask", QUESTION, "--store", str(seed_store),
                        "--generator", "extractive", "--reader", "llm", "--base-url", llm.url, "--model", "m",
                        "--reader-timeout", "5", "--llm-record", str(record), "--json"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reader"] == "does_not" and out["outcome"] == "related" and out["generator"] == "extractive"
    assert "read" in out["timings"]
    assert json.loads(record.read_text().splitlines()[0])["reply"] == "Non."  # recorded like the writer's replies


def test_quotes_shown_beside_an_llm_abstention_are_read_only_when_shown_as_an_answer(engine, reading, llm):
    from amqa.writers.llm import LLMWriter, OnAbstention

    replies(llm, "no", writer="Les documents ne contiennent pas de réponse à cette question.")
    reading()
    asked = len(llm.requests)
    related = engine.answer(QUESTION, generator=OpenAIChat(llm.url, "writer-model", timeout=5))
    assert related.verification is Verification.LLM_ABSTAINED and related.outcome is Outcome.RELATED_ONLY
    assert related.reader is None and len(llm.requests) == asked + 1, "related passages already: not read"
    writer = LLMWriter(OpenAIChat(llm.url, "writer-model", timeout=5), engine.embedder, engine.policy,
                       on_abstention=OnAbstention.EXTRACTIVE)
    shown = engine.answer(QUESTION, generator=writer)
    assert shown.reader is ReaderVerdict.DOES_NOT and shown.outcome is Outcome.RELATED_ONLY


def test_with_a_reader_an_llm_abstention_beside_quotes_is_decided_by_the_reader(engine, reading, llm):
    from amqa.writers import WriterContext, get_writer
    from amqa.writers.llm import OnAbstention

    settings = engine.settings.replace(base_url=llm.url, model="writer-model", reader="llm")
    context = WriterContext(embedder=engine.embedder, policy=engine.policy, settings=settings,
                            config=engine.writer_config)
    writer = get_writer("openai", context)
    assert writer.on_abstention is OnAbstention.EXTRACTIVE
    assert get_writer("openai", replace(context, settings=settings.replace(reader="none"))).on_abstention \
        is OnAbstention.RELATED
    plain = engine.answer(QUESTION)
    replies(llm, "Yes", writer="Les documents ne contiennent pas de réponse à cette question.")
    kept = reading().answer(QUESTION, generator=writer)
    assert kept.verification is Verification.LLM_ABSTAINED and kept.reader is ReaderVerdict.STATES
    assert kept.outcome is Outcome.ANSWERED and kept.text == plain.text
    replies(llm, "Hmm", writer="Les documents ne contiennent pas de réponse à cette question.")
    doubted = engine.answer(QUESTION, generator=writer)
    assert doubted.reader is ReaderVerdict.UNKNOWN and doubted.outcome is Outcome.RELATED_ONLY, \
        "no word from the reader: the LLM's abstention stands"
