"""Answer writers: what turns a :class:`~amqa.types.SearchResult` into an :class:`~amqa.types.Answer`.

A writer is anything with the :class:`AnswerWriter` shape; :func:`get_writer` makes one from a spec
(the registry :data:`WRITERS` maps each spec's prefix to its maker). Two are built in:

- ``extractive`` (:class:`~amqa.writers.extractive.ExtractiveWriter`): quotes the best sentences of
  the hits, or abstains. Every other writer falls back to it.
- an LLM (``openai``, ``transformers:PATH`` or a :class:`~amqa.writers.llm.models.ChatModel`:
  :class:`~amqa.writers.llm.LLMWriter`): the LLM writes, amqa verifies what it wrote against the
  passages it cites, and shows the extractive answer instead when the check or the LLM fails.

A new writer is one module with a class of this shape plus one entry in :data:`WRITERS`.

>>> from amqa.embedders import get_embedder
>>> from amqa.writers.policy import policy_for
>>> from amqa.settings import Settings
>>> from amqa.writers import WriterConfig, WriterContext, get_writer
>>> embedder = get_embedder("hash")
>>> context = WriterContext(embedder=embedder, policy=policy_for(embedder.id), settings=Settings.from_env({}),
...                         config=WriterConfig())
>>> writer = get_writer("extractive", context)
>>> writer.id, writer.kind.value
('extractive', 'extractive')
"""
from __future__ import annotations

from typing import Callable

from amqa.errors import InvalidInputError
from amqa.writers.extractive import ExtractiveWriter
from amqa.writers.extractive.sentences import WriterConfig
from amqa.writers.llm import LLMWriter, OnAbstention
from amqa.writers.llm.models import ChatModel, get_generator
from amqa.writers.protocol import AnswerWriter, Draft, WriterContext, WriterKind

__all__ = ["AnswerWriter", "Draft", "WriterContext", "WriterKind", "WRITERS", "get_writer", "ExtractiveWriter",
           "WriterConfig", "LLMWriter"]


def _extractive(spec: str, context: WriterContext) -> AnswerWriter:
    return ExtractiveWriter(context.policy, context.config)


def _on_abstention(context: WriterContext) -> OnAbstention:
    """What an LLM abstention beside extractive quotes shows: with ``--reader llm`` the extractive answer, for
    the reader to judge; without, the quotes as related passages (eval/README.md, "The LLM as a reader":
    on the 17 such answers of the four collections, related shows 6.0 key facts of 11 answerable ones as
    related passages and frames 0 of 6 near misses as answered; the answer as it is 6.0 as answers but 6 of
    6 near misses; read by the reader 5.0 as answers and 1 of 6 near misses, chosen held out by collection)."""
    return OnAbstention.EXTRACTIVE if context.settings.reader == "llm" else OnAbstention.RELATED


def _llm(spec: str, context: WriterContext) -> AnswerWriter:
    model = get_generator(spec, settings=context.settings)
    assert model is not None  # only the "extractive" spec gives no model
    return LLMWriter(model, context.embedder, context.policy, ExtractiveWriter(context.policy, context.config),
                     on_abstention=_on_abstention(context))


#: A spec's prefix (before ``:``) -> the function that makes its writer.
WRITERS: dict[str, Callable[[str, WriterContext], AnswerWriter]] = {
    "extractive": _extractive,
    "openai": _llm,
    "transformers": _llm,
}


def get_writer(spec: str | ChatModel | AnswerWriter | None, context: WriterContext) -> AnswerWriter:
    """The writer for ``spec``: a registry name (``extractive``, ``openai``, ``transformers:PATH``; None:
    the settings' ``AMQA_GENERATOR``), a :class:`~amqa.writers.llm.models.ChatModel` (an LLM writer around it), or a
    writer, returned as it is."""
    if isinstance(spec, ChatModel):
        return LLMWriter(spec, context.embedder, context.policy, ExtractiveWriter(context.policy, context.config),
                         on_abstention=_on_abstention(context))
    if spec is not None and not isinstance(spec, str):
        return spec
    name = (spec or context.settings.generator or "extractive").strip()
    maker = WRITERS.get(name.split(":", 1)[0])
    if maker is None:
        raise InvalidInputError(f"unknown generator '{name}'. Use 'extractive' (default), 'openai' (with --base-url "
                                "and --model) or 'transformers:PATH'")
    return maker(name, context)
