"""End to end against the REAL llama.cpp server (eval/llm_server.py's ``serve()``): the LLM reader
(``--reader llm``) keeps an answer whose passage states it and turns a near miss into related passages;
the LLM writer's answer comes back cited by amqa, and a near miss is not framed as answered.

The server comes from conftest's ``real_llm`` (skipped unless installed, or ``AMQA_REQUIRE_LLM=1``).
Its default model, qwen1.5b, is the smallest whose verdicts were right on these questions (SmolLM2-135M
replied "The passage does not state the answer to" for the stated answer too; Qwen2.5-Coder-0.5B "no" to
all three with the reader's prompt, "yes" to all three with another). The three verdicts took 2.2 min on
the shared server, queued behind another client's prompts. The questions are this file's own, about the
bundled seeds, not the evaluation sets'.
"""
import re
import time

import pytest

from amqa import Outcome, Verification
from amqa.types import ReaderVerdict
from amqa.writers.extractive.sentences import RELATED_FRAMES
from amqa.writers.llm.models import OpenAIChat
from amqa.writers.reader import LLMReader

STATED = "Combien d'entreprises le Pays de Montbéliard Agglomération réunit-il ?"  # "près de 2.900 entreprises"
NEAR_MISSES = ("Combien d'enseignants travaillent à l'antenne du Cnam de Montbéliard ?",
               "How many teachers work at the Cnam branch in Montbéliard?")  # English on a French passage


@pytest.fixture
def reading(engine, real_llm):
    base_url, model = real_llm
    engine.pipeline.reader = LLMReader(OpenAIChat(base_url, model, timeout=60, max_tokens=4, stream=False))
    yield engine
    engine.pipeline.reader = None


@pytest.mark.slow
def test_the_real_llm_reader_keeps_a_stated_answer_and_moves_near_misses(reading):
    plain = reading.answer(STATED)  # read: the verdict and its time
    assert plain.reader is ReaderVerdict.STATES, plain.citations[0].quote
    assert plain.outcome is Outcome.ANSWERED and "2.900" in plain.text
    t0 = time.perf_counter()
    for question in NEAR_MISSES:
        reading.pipeline.reader, reader = None, reading.pipeline.reader
        before = reading.answer(question)
        reading.pipeline.reader = reader
        assert before.outcome is Outcome.ANSWERED, "the extractive writer frames this near miss as answered"
        after = reading.answer(question)
        assert after.reader is ReaderVerdict.DOES_NOT, after.citations[0].quote
        assert after.outcome is Outcome.RELATED_ONLY and after.citations == before.citations
        assert after.text.startswith(RELATED_FRAMES[after.language])
    assert time.perf_counter() - t0 < 120


@pytest.mark.slow
def test_the_real_llm_writer_is_cited_by_amqa_and_never_frames_a_near_miss(engine, real_llm):
    """The LLM writer (--generator openai) on the real server: a cited, checked answer comes back; no draft
    with a claim its passages do not state is shown (the 1.5B's English draft said "1,600 companies in
    Morocco"); a near miss is not framed as answered."""
    base_url, model = real_llm
    writer = OpenAIChat(base_url, model, timeout=120)
    stated = engine.answer(STATED, generator=writer)
    assert stated.verification is Verification.VERIFIED, (stated.verification_reason, stated.draft)
    assert "2.900" in stated.text and stated.citations[0].source == "004_1b3744d526457350.txt"
    assert "[1]" in stated.text and stated.citations[0].start < stated.citations[0].end
    english = engine.answer("How many companies does the Pays de Montbéliard Agglomération bring together?",
                            generator=writer)
    if english.verification is Verification.VERIFIED:  # shown as the LLM wrote it: then it must be right
        assert re.search(r"2[.,  ]?900", english.text), english.text
    else:
        assert english.citations and english.outcome is Outcome.ANSWERED  # the extractive answer instead
    for question in NEAR_MISSES:
        near = engine.answer(question, generator=writer)
        assert near.outcome is not Outcome.ANSWERED, (near.text, near.verification_reason)
