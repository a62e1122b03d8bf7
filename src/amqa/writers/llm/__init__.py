"""The LLM writer: an LLM writes from the passages, amqa checks what it wrote, and falls back.

The LLM (:class:`~amqa.writers.llm.models.ChatModel`: an OpenAI-compatible server, or a local transformers model)
reads the passages and the question (:func:`amqa.writers.llm.prompt.build_messages`); its reply streams as it
arrives. Then :class:`~amqa.writers.llm.verification.Verifier` checks that every sentence is supported by the
passages it cites. A supported reply is the answer ("verified", or "abstained" when the LLM says the
documents hold none: when the extractive writer found quotes all the same, :class:`OnAbstention` says what
is shown); otherwise, or when the LLM fails, the extractive answer is shown with the
reason (:attr:`~amqa.types.Verification.FALLBACK`). When the extractive writer abstains, the LLM is
not asked: nothing retrieved supports an answer.
"""
from __future__ import annotations

import time
from dataclasses import replace
from enum import Enum
from typing import Iterator, Sequence

from amqa.embedders import Embedder
from amqa.errors import GeneratorError, InvalidInputError
from amqa.types import Answer, Outcome, Verification
from amqa.writers.extractive import ExtractiveWriter
from amqa.writers.extractive.sentences import frames, quoted_text
from amqa.writers.llm.models import ChatModel
from amqa.writers.llm.prompt import build_messages, rewrite_messages
from amqa.writers.llm.verification import Verifier
from amqa.writers.policy import AnswerPolicy
from amqa.writers.protocol import Draft, WriterKind


class OnAbstention(str, Enum):
    """What is shown when the LLM says the documents hold no answer but the extractive writer found quotes."""

    NOTHING = "nothing"        #: "nothing found", the LLM's abstention
    RELATED = "related"        #: the extractive quotes as related passages only
    EXTRACTIVE = "extractive"  #: the extractive answer as it is (an answer, or related passages)


class LLMWriter:
    """Writes with ``model``, verifies with ``embedder`` under ``policy``; falls back to ``fallback``
    (default: an :class:`ExtractiveWriter` under the same policy). ``on_abstention``: what a verified LLM
    abstention shows when the extractive writer found quotes (:class:`OnAbstention`). ``max_passages``: the
    LLM reads at most this many hits, the best first (a user's default -k): ``amqa eval`` retrieves 10 for
    its retrieval scores, and 10 passages of the seeds (9,065 characters of prompt) took the 1.5B model on
    llama.cpp 88 s on 2 shared cores and came back empty; 5 are 4,759 characters."""

    kind = WriterKind.LLM

    def __init__(self, model: ChatModel, embedder: Embedder, policy: AnswerPolicy,
                 fallback: ExtractiveWriter | None = None, on_abstention: OnAbstention = OnAbstention.RELATED,
                 max_passages: int = 5) -> None:
        if not isinstance(max_passages, int) or max_passages < 1:
            raise InvalidInputError(f"max_passages must be a positive integer. Currently, it is {max_passages!r}")
        self.model = model
        self.max_passages = max_passages
        self.verifier = Verifier(embedder, policy)
        self.fallback = fallback or ExtractiveWriter(policy)
        self.on_abstention = on_abstention

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
        passages = result.hits[:self.max_passages]
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
        if checked.supported and checked.abstained and self.on_abstention is not OnAbstention.NOTHING:
            shown = extractive if self.on_abstention is OnAbstention.EXTRACTIVE else replace(
                extractive, outcome=Outcome.RELATED_ONLY,
                text=quoted_text(extractive.citations, lang, Outcome.RELATED_ONLY))
            yield replace(shown, generator=self.id, verification=Verification.LLM_ABSTAINED, timings=timings,
                          verification_reason=checked.reason, draft=checked.text,
                          warnings=notes + ("the LLM found no answer in the passages; showing the extractive "
                                            "writer's quotes",))
        elif checked.supported:
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
