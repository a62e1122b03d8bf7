"""The LLM writer: an LLM writes from the passages, amqa checks what it wrote, and falls back.

The LLM (:class:`~amqa.writers.llm.models.ChatModel`: an OpenAI-compatible server, or a local transformers model)
reads the passages and the question (:func:`amqa.writers.llm.prompt.build_messages`); its reply streams as it
arrives. Then :class:`~amqa.writers.llm.verification.Verifier` checks that every sentence is supported by the
passages it cites. A supported reply is the answer ("verified", or "abstained" when the LLM says the
documents hold none); otherwise, or when the LLM fails, the extractive answer is shown with the
reason (:attr:`~amqa.types.Verification.FALLBACK`). When the extractive writer abstains, the LLM is
not asked: nothing retrieved supports an answer.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterator, Sequence

from amqa.embedders import Embedder
from amqa.errors import GeneratorError
from amqa.types import Answer, Outcome, Verification
from amqa.writers.extractive import ExtractiveWriter
from amqa.writers.extractive.sentences import frames
from amqa.writers.llm.models import ChatModel
from amqa.writers.llm.prompt import build_messages, rewrite_messages
from amqa.writers.llm.verification import Verifier
from amqa.writers.policy import AnswerPolicy
from amqa.writers.protocol import Draft, WriterKind


#: The LLM reads at most this many passages, the best first (a user's default -k): ``amqa eval`` retrieves
#: 10 for its retrieval scores, and 10 passages of the seeds (9,065 characters of prompt) took the 1.5B model
#: on llama.cpp 88 s on 2 shared cores and came back empty; 5 are 4,759 characters.
MAX_PASSAGES = 5


class LLMWriter:
    """Writes with ``model``, verifies with ``embedder`` under ``policy``; falls back to ``fallback``
    (default: an :class:`ExtractiveWriter` under the same policy)."""

    kind = WriterKind.LLM

    def __init__(self, model: ChatModel, embedder: Embedder, policy: AnswerPolicy,
                 fallback: ExtractiveWriter | None = None) -> None:
        self.model = model
        self.verifier = Verifier(embedder, policy)
        self.fallback = fallback or ExtractiveWriter(policy)

    @property
    def id(self) -> str:
        return self.model.id

    def rewrite(self, question: str, turns: Sequence) -> str | None:
        """The LLM's standalone form of a follow-up (one line), or None when it gives nothing usable.
        Raises :class:`~amqa.errors.GeneratorError` when the LLM fails."""
        return " ".join("".join(self.model.reply_stream(rewrite_messages(question, turns))).split()) or None

    def _fell_back(self, extractive: Answer, reason: str, warning: str, **fields) -> Answer:
        return replace(extractive, generator=self.id, verification=Verification.FALLBACK, verification_reason=reason,
                       warnings=extractive.warnings + (warning,), **fields)

    def write(self, draft: Draft) -> Iterator[str | Answer]:
        """Stream the LLM's reply, then the verified answer, or the extractive one and why."""
        extractive = self.fallback.answer(draft)
        if draft.failure is not None:
            yield self._fell_back(extractive, draft.failure,
                                  f"LLM unavailable ({draft.failure}); showing the extractive answer")
            return
        if extractive.abstained:
            yield extractive
            return
        result, lang = draft.result, extractive.language
        passages = result.hits[:MAX_PASSAGES]
        abstain_text = frames(lang)[1]
        pieces: list[str] = []
        timings = dict(extractive.timings)
        t0 = time.perf_counter()
        try:
            # The question's own language for the LLM ("Answer in Persian" too), amqa's words in lang.
            messages = build_messages(result.query.text, passages, result.query.language, abstain_text)
            for piece in self.model.reply_stream(messages):
                pieces.append(piece)
                yield piece
        except GeneratorError as exc:
            yield self._fell_back(extractive, str(exc), f"LLM unavailable ({exc}); showing the extractive answer")
            return
        timings["generate"] = time.perf_counter() - t0
        checked = self.verifier.check("".join(pieces), passages, lang, abstain_text, result.query.vector,
                                      result.query.text)
        notes = extractive.warnings + ((f"removed {checked.removed_markers} citation marker(s) that point at no "
                                        "source",) if checked.removed_markers else ())
        if checked.supported:
            yield Answer(question=extractive.question, standalone_question=extractive.standalone_question,
                         text=checked.text, hits=result.hits,
                         citations=result.with_pages(checked.citations), language=lang, timings=timings,
                         outcome=Outcome.NOTHING_FOUND if checked.abstained else Outcome.ANSWERED,
                         warnings=notes, generator=self.id, verification_reason=checked.reason,
                         verification=Verification.LLM_ABSTAINED if checked.abstained else Verification.VERIFIED)
        else:
            yield replace(extractive, generator=self.id, verification=Verification.FALLBACK,
                          verification_reason=checked.reason, draft=checked.text, timings=timings,
                          warnings=notes + (f"the LLM answer was not shown: {checked.reason}; "
                                            "showing the extractive answer",))
