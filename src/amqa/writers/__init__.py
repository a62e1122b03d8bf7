"""Answer writers: what turns a :class:`~amqa.types.SearchResult` into an :class:`~amqa.types.Answer`.

A writer is anything with the :class:`AnswerWriter` shape; :func:`get_writer` makes one from a spec
(the registry :data:`WRITERS` maps each spec's prefix to its maker). Two are built in:

- ``extractive`` (:class:`~amqa.writers.extractive.ExtractiveWriter`): quotes the best sentences of
  the hits, or abstains. Every other writer falls back to it.
- an LLM (``openai``, ``transformers:PATH`` or a :class:`~amqa.llm.ChatModel`:
  :class:`~amqa.writers.llm.LLMWriter`): the LLM writes, amqa verifies what it wrote against the
  passages it cites, and shows the extractive answer instead when the check or the LLM fails.

A new writer is one module with a class of this shape plus one entry in :data:`WRITERS`.

>>> from amqa.embedders import get_embedder
>>> from amqa.policy import policy_for
>>> from amqa.settings import Settings
>>> from amqa.writers import WriterContext, get_writer
>>> embedder = get_embedder("hash")
>>> context = WriterContext(embedder=embedder, policy=policy_for(embedder.id), settings=Settings.from_env({}))
>>> writer = get_writer("extractive", context)
>>> writer.id, writer.kind.value
('extractive', 'extractive')
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

from ..errors import InvalidInputError
from ..types import Answer, SearchResult

if TYPE_CHECKING:
    from ..conversation import Turn
    from ..embedders import Embedder
    from ..llm import ChatModel
    from ..policy import AnswerPolicy
    from ..settings import Settings


class WriterKind(str, Enum):
    """Which answering slots a writer uses (:class:`amqa.service.Admission`): the CPU's, or an LLM's."""

    EXTRACTIVE = "extractive"  #: answers in milliseconds on the CPU
    LLM = "llm"                #: waits on an LLM, up to its timeout


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

    def rewrite(self, question: str, turns: Sequence["Turn"]) -> str | None: ...

    def write(self, draft: Draft) -> Iterator[str | Answer]: ...


@dataclass(frozen=True, kw_only=True)
class WriterContext:
    """What a writer maker may use: the embedder and policy (an LLM writer's verifier) and the settings
    (an LLM's address, model, key and timeout)."""

    embedder: "Embedder"
    policy: "AnswerPolicy"
    settings: "Settings"


def _extractive(spec: str, context: WriterContext) -> AnswerWriter:
    from .extractive import ExtractiveWriter
    return ExtractiveWriter(context.policy)


def _llm(spec: str, context: WriterContext) -> AnswerWriter:
    from ..llm import get_generator
    from .llm import LLMWriter
    model = get_generator(spec, settings=context.settings)
    assert model is not None  # only the "extractive" spec gives no model
    return LLMWriter(model, context.embedder, context.policy)


#: A spec's prefix (before ``:``) -> the function that makes its writer.
WRITERS: dict[str, Callable[[str, WriterContext], AnswerWriter]] = {
    "extractive": _extractive,
    "openai": _llm,
    "transformers": _llm,
}


def get_writer(spec: "str | ChatModel | AnswerWriter | None", context: WriterContext) -> AnswerWriter:
    """The writer for ``spec``: a registry name (``extractive``, ``openai``, ``transformers:PATH``; None:
    the settings' ``AMQA_GENERATOR``), a :class:`~amqa.llm.ChatModel` (an LLM writer around it), or a
    writer, returned as it is."""
    from ..llm import ChatModel
    if isinstance(spec, ChatModel):
        from .llm import LLMWriter
        return LLMWriter(spec, context.embedder, context.policy)
    if spec is not None and not isinstance(spec, str):
        return spec
    name = (spec or context.settings.generator or "extractive").strip()
    maker = WRITERS.get(name.split(":", 1)[0])
    if maker is None:
        raise InvalidInputError(f"unknown generator '{name}'. Use 'extractive' (default), 'openai' (with --base-url "
                                "and --model) or 'transformers:PATH'")
    return maker(name, context)
