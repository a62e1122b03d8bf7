"""The service layer: answering slots shared by every front end, the writer registry, the keeper's
tunables. Real engines over the seeds (the hash embedder for the logic; the LLM path against the
loopback OpenAI-compatible server of tests/fake_llm.py)."""
import dataclasses
import math
import sys
import threading
from pathlib import Path

import pytest

from amqa import Engine, Verification
from amqa.errors import InvalidInputError, ServiceBusyError
from amqa.writers.llm.models import OpenAIChat
from amqa.service.admission import Admission, AdmissionLimits
from amqa.service.keeper import KeeperConfig
from amqa.writers import WRITERS, Draft, WriterKind, get_writer
from amqa.writers.extractive import ExtractiveWriter
from amqa.writers.llm import LLMWriter

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm import FakeLLM  # noqa: E402

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
QUESTION = "Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?"


class Shouting:
    """A writer of the AnswerWriter shape that streams a piece before its answer (the extractive one's,
    in capitals): what a new writer module holds."""
    kind = WriterKind.EXTRACTIVE

    def __init__(self, spec, context):
        self.id, self.inner = spec, ExtractiveWriter(context.policy, context.config)

    def rewrite(self, question, turns):
        return None

    def write(self, draft: Draft):
        answer = self.inner.answer(draft)
        yield "…"
        yield dataclasses.replace(answer, text=answer.text.upper(), generator=self.id)


def test_an_answer_holds_a_slot_of_its_writers_kind_while_it_is_written(hash_store, monkeypatch):
    monkeypatch.setitem(WRITERS, "shout", Shouting)
    engine = Engine(SEEDS, hash_store, "hash", progress=False, generator="shout:loud",
                    admission=AdmissionLimits(extractive=1, wait=0.05))
    first = engine.answer_stream(QUESTION)
    assert next(first) == "…" and engine.admission.busy(WriterKind.EXTRACTIVE) == 1  # being written
    with pytest.raises(ServiceBusyError, match="all 1 extractive answer slots are busy"):
        engine.answer(QUESTION, generator="extractive")
    answer = next(first)
    assert answer.text.isupper() and engine.admission.busy(WriterKind.EXTRACTIVE) == 0  # given back before the Answer
    assert engine.answer(QUESTION, generator="extractive").text.upper() == answer.text
    first.close()


def test_engines_given_one_admission_share_its_slots(hash_store, docs_copy, tmp_path):
    shared = Admission(AdmissionLimits(extractive=1, wait=0.05))
    one = Engine(SEEDS, hash_store, "hash", progress=False, admission=shared)
    other = Engine(docs_copy, tmp_path / "store", "hash", progress=False, admission=one.admission)
    other.warm_up()
    assert other.admission is shared
    with shared.slot(WriterKind.EXTRACTIVE), pytest.raises(ServiceBusyError):
        other.answer(QUESTION)
    assert not other.answer(QUESTION).abstained  # free again


def test_an_unlimited_wait_waits_for_the_slot(hash_store):
    engine = Engine(SEEDS, hash_store, "hash", progress=False, admission=AdmissionLimits(extractive=1, wait=0.01))
    engine.warm_up()
    done = []
    with engine.admission.slot(WriterKind.EXTRACTIVE):
        asker = threading.Thread(target=lambda: done.append(engine.answer_stream(QUESTION, wait=math.inf).__next__()))
        asker.start()
        asker.join(0.5)
        assert asker.is_alive() and not done  # waiting, not refused
    asker.join(10)
    assert done and not done[0].abstained


def test_llm_answers_use_their_own_slots(hash_store):
    admission = Admission(AdmissionLimits(extractive=1, llm=2, wait=0.01))
    with admission.slot(WriterKind.LLM), admission.slot(WriterKind.LLM):
        with admission.slot(WriterKind.EXTRACTIVE):  # an extractive answer is not behind the LLM streams
            assert (admission.busy(WriterKind.LLM), admission.busy(WriterKind.EXTRACTIVE)) == (2, 1)
        with pytest.raises(ServiceBusyError, match="all 2 llm answer slots"):
            with admission.slot(WriterKind.LLM):
                pass
    assert admission.busy(WriterKind.LLM) == 0


def test_a_waiting_question_gets_the_slot_freed_within_its_wait():
    admission = Admission(AdmissionLimits(extractive=1, wait=5.0))
    got = threading.Event()

    def ask() -> None:
        with admission.slot(WriterKind.EXTRACTIVE):
            got.set()

    with admission.slot(WriterKind.EXTRACTIVE):
        waiter = threading.Thread(target=ask)
        waiter.start()
        assert not got.wait(0.2)  # still held
    waiter.join(5)
    assert got.is_set()


@pytest.mark.parametrize("limits, message", [
    (dict(extractive=0), "AdmissionLimits.extractive must be a positive integer. Currently, it is 0"),
    (dict(llm=True), "AdmissionLimits.llm must be a positive integer. Currently, it is True"),
    (dict(wait=float("nan")), "the wait for an answering slot must be a number of seconds >= 0 (math.inf: no "
                              "limit). Currently, it is nan"),
])
def test_admission_limits_are_checked_where_they_enter(limits, message):
    with pytest.raises(InvalidInputError) as refused:
        AdmissionLimits(**limits)
    assert str(refused.value) == message


def test_keeper_config_is_checked_where_it_enters():
    with pytest.raises(InvalidInputError, match="KeeperConfig.check_spacing must be a number >= 0. Currently, it is -1"):
        KeeperConfig(check_spacing=-1)


def test_a_new_writer_is_one_class_and_one_registry_entry(hash_store, monkeypatch):
    """A writer of the AnswerWriter shape, registered under a prefix, answers through the engine
    like the built-in ones (the pipeline hands it the search result)."""
    monkeypatch.setitem(WRITERS, "shout", Shouting)
    engine = Engine(SEEDS, hash_store, "hash", progress=False, generator="shout:loud")
    plain = Engine(SEEDS, hash_store, "hash", progress=False).answer(QUESTION)
    items = list(engine.answer_stream(QUESTION))
    assert items[0] == "…" and items[-1].generator == "shout:loud"
    assert items[-1].text == plain.text.upper() and items[-1].citations == plain.citations
    assert engine.writer.id == "shout:loud" and engine.generator is None  # no LLM behind it


def test_an_unknown_writer_is_refused_with_the_choices(hash_engine):
    with pytest.raises(InvalidInputError, match="unknown generator 'gpt9'. Use 'extractive'"):
        get_writer("gpt9", hash_engine.pipeline.context)


def test_the_llm_writer_verifies_and_falls_back_through_the_registry(hash_store):
    """The LLM writer from its spec (settings give the server), against a real loopback server: a
    reply citing a passage that does not say it is not shown; the extractive answer is."""
    server = FakeLLM()
    try:
        server.server.script = lambda m: (200, "La convention a été signée en 1850 [1].")
        from amqa.settings import Settings
        settings = Settings.from_env({"AMQA_BASE_URL": server.url, "AMQA_MODEL": "test-model"})
        engine = Engine(SEEDS, hash_store, "hash", progress=False, generator="openai", settings=settings)
        assert isinstance(engine.writer, LLMWriter) and engine.writer.kind is WriterKind.LLM
        answer = engine.answer(QUESTION)
        extractive = engine.answer(QUESTION, generator="extractive")
        assert answer.verification is Verification.FALLBACK and answer.generator.startswith("openai:test-model")
        assert answer.text == extractive.text and answer.draft.startswith("La convention a été signée en 1850")
        assert engine.admission.busy(WriterKind.LLM) == 0
        # a ChatModel passed per question is wrapped in an LLM writer too
        again = engine.answer(QUESTION, generator=OpenAIChat(server.url, "other-model"))
        assert again.generator.startswith("openai:other-model") and again.verification is Verification.FALLBACK
    finally:
        server.close()


def test_the_writers_tunables_are_given_at_construction_and_recorded(hash_store):
    from dataclasses import replace

    from amqa.writers import WriterConfig
    from amqa.evaluation import evaluate, load_questions

    wide = WriterConfig(same_source_margin=1.0, second_sentence_margin=1.0, cover_margin=1.0)
    question = "Quels partenaires Arts et Métiers a-t-il au Maroc ?"
    engine = Engine(SEEDS, hash_store, "hash", progress=False, writer_config=wide)
    assert len(engine.answer(question).citations) > 1
    engine.writer_config = replace(wide, max_sentences=1, cover_margin=-1.0)  # reaches the writer at once
    assert len(engine.answer(question).citations) == 1
    report = evaluate(engine, load_questions()[:2])
    assert report["config"]["writer"]["max_sentences"] == 1 and report["config"]["writer"]["cover_margin"] == -1.0
    assert report["config"]["retrieval"]["rrf_k"] == engine.retrieval.rrf_k
    assert report["config"]["embedder"] == engine.embedder.id


def test_the_uis_library_engine_keeps_the_engines_writer_tunables_and_slots(tmp_path):
    """The web UI serves the bundled seeds with the user's library beside them (another engine): it
    shares the engine's slots, and its writer follows its own tunables when they change."""
    from amqa.writers import WriterConfig
    from amqa.frontends.ui import library_engine

    wide = WriterConfig(same_source_margin=1.0, second_sentence_margin=1.0, cover_margin=1.0)
    engine = Engine(store=tmp_path / "store", embedder="hash", progress=False, writer_config=wide)
    served = library_engine(engine)
    assert served is not engine and served.admission is engine.admission and served.writer_config == wide
    question = "Quels partenaires Arts et Métiers a-t-il au Maroc ?"
    assert len(served.answer(question).citations) > 1
    served.writer_config = dataclasses.replace(wide, max_sentences=1, cover_margin=-1.0)
    assert len(served.answer(question).citations) == 1
