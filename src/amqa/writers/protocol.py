"""What every answer writer is: the :class:`AnswerWriter` shape, what it is handed (:class:`Draft`),
what its maker may use (:class:`WriterContext`), and which answering slots it takes (:class:`WriterKind`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

from amqa.types import Answer, Message, SearchResult, WriterKind

if TYPE_CHECKING:
    from amqa.embedders import Embedder
    from amqa.settings import Settings
    from amqa.writers.extractive.sentences import WriterConfig
    from amqa.writers.policy import AnswerPolicy


@dataclass(frozen=True, kw_only=True)
class Draft:
    """What the answering pipeline hands a writer: the search result and what it knows of the question.

    ``failure``: the LLM already failed on this question (rewriting a follow-up); an LLM writer then
    does not ask it again and falls back at once (one ``--llm-timeout`` per question)."""

    result: SearchResult
    question: str
    warnings: tuple[str, ...] = ()
    failure: str | None = None


class AnswerWriter(Protocol):
    """Writes the answer to one question from its search result.

    ``write`` yields text pieces as they are written (an LLM's reply, before it is checked) and ends
    with the :class:`~amqa.types.Answer`; its ``timings`` hold the writer's own steps ("compose",
    "generate"). ``rewrite`` may turn a follow-up into a standalone question (None: keep amqa's own)."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> WriterKind: ...

    def rewrite(self, question: str, turns: Sequence[Message]) -> str | None: ...

    def write(self, draft: Draft) -> Iterator[str | Answer]: ...


@dataclass(frozen=True, kw_only=True)
class WriterContext:
    """What a writer maker may use: the embedder and policy (an LLM writer's verifier), the extractive
    writer's tunables, and the settings (an LLM's address, model, key and timeout)."""

    embedder: "Embedder"
    policy: "AnswerPolicy"
    settings: "Settings"
    config: "WriterConfig"
