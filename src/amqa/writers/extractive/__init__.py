"""The extractive writer: quotes the sentences that answer, or says that nothing does (no LLM).

>>> from amqa import Engine
>>> import tempfile
>>> store = tempfile.TemporaryDirectory()
>>> engine = Engine(store=store.name, embedder="hash")
>>> writer = ExtractiveWriter(engine.policy)
>>> result = engine.search("Où se trouve le campus marocain ?")
>>> answer = list(writer.write(Draft(result=result, question=result.query.text)))[-1]
>>> answer.verification.value, answer.citations[0].source
('quoted', '000_c8fb014e83a46547.txt')
>>> store.cleanup()
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterator, Sequence

from amqa.threads import one_blas_thread
from amqa.types import Answer
from amqa.writers.extractive.sentences import WriterConfig, compose
from amqa.writers.policy import AnswerPolicy
from amqa.writers.protocol import Draft, WriterKind


class ExtractiveWriter:
    """Quotes one to four sentences of the hits with their ``[n]`` markers (:func:`amqa.writers.extractive.sentences.compose`,
    with ``config``'s tunables), or abstains in the question's language when the evidence is under
    ``policy``'s thresholds."""

    id = "extractive"
    kind = WriterKind.EXTRACTIVE

    def __init__(self, policy: AnswerPolicy, config: WriterConfig | None = None) -> None:
        self.policy = policy
        self.config = config or WriterConfig()

    def rewrite(self, question: str, turns: Sequence) -> str | None:
        """amqa's own follow-up resolution is kept (:func:`amqa.service.conversation.standalone`)."""
        return None

    def answer(self, draft: Draft) -> Answer:
        """The answer itself (:meth:`write` yields only it)."""
        t0 = time.perf_counter()
        with one_blas_thread():
            answer = compose(draft.result, self.policy, warnings=draft.warnings, config=self.config)
        return replace(answer, question=draft.question, standalone_question=draft.result.query.text,
                       timings={"compose": time.perf_counter() - t0})

    def write(self, draft: Draft) -> Iterator[str | Answer]:
        yield self.answer(draft)
