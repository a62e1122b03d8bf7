"""The typed values that flow through amqa.

``files -> Document -> Chunk -> vectors -> index -> Hit -> Answer(text, citations)``
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Document:
    """One source file, as read from the documents folder.

    ``source`` is the path relative to that folder (what citations show); ``text`` is the decoded
    text (visible text for HTML, the text layer for PDF) that character offsets refer to.
    """

    source: str
    title: str
    text: str
    language: str
    sha256: str


@dataclass(frozen=True)
class Sentence:
    """A sentence span of a document: ``document.text[start:end]``."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one document, the unit of retrieval and citation.

    ``text == document.text[start:end]``; ``sentences`` are the sentence spans inside it, in
    document offsets.
    """

    id: str
    source: str
    ordinal: int
    start: int
    end: int
    text: str
    title: str
    language: str
    sentences: tuple[Sentence, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Hit:
    """A retrieved chunk with the fused score and what each retriever said of it.

    ``dense_rank``/``bm25_rank`` are 1-based, ``None`` when that retriever did not rank the chunk.
    ``dense_score`` is the raw similarity (chunk plus best sentence); ``dense_rank`` is the order after
    language centering (:data:`amqa.retrieval.LANGUAGE_CENTERING`) when the documents mix languages.
    """

    chunk: Chunk
    rank: int
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True, kw_only=True)
class Query:
    """A question as retrieval saw it: its text, embedding, BM25 tokens and detected language."""

    text: str
    vector: np.ndarray
    tokens: tuple[str, ...]
    language: str


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """What retrieval hands to the answer writers: the ranked hits and the query they answer.

    ``corpus_has_language`` tells whether any indexed document is in the question's language (when
    none is, shared words are not to be expected).
    """

    hits: tuple[Hit, ...]
    query: Query
    corpus_has_language: bool = True


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A quoted passage behind an ``[n]`` marker: ``text == document.text[start:end]``."""

    n: int
    source: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float
    #: The words that answer what was asked (a date, a number, a name, a path, a command...), as
    #: ``(start, end)`` spans in document offsets inside ``start..end``; shown in bold.
    marks: tuple[tuple[int, int], ...] = ()

    def marked_text(self, before: str = "**", after: str = "**") -> str:
        """``text`` with each mark wrapped in ``before``/``after`` (Markdown bold by default).

        >>> Citation(n=1, source="a", chunk_id="a#0", start=10, end=30, text="Opened in 2027 here.",
        ...          score=1.0, marks=((20, 24),)).marked_text()
        'Opened in **2027** here.'
        """
        out, last = [], 0
        for a, b in self.marks:
            out += [self.text[last:a - self.start], before, self.text[a - self.start:b - self.start], after]
            last = b - self.start
        return "".join(out) + self.text[last:]


class Outcome(str, Enum):
    """What amqa could say: an answer, only related passages, or nothing."""

    ANSWERED = "answered"          #: quotes (or a verified LLM reply) that answer the question
    RELATED_ONLY = "related"       #: the documents cover the subject, not what was asked: closest passages shown
    NOTHING_FOUND = "nothing"      #: nothing relevant: no citation


class Verification(str, Enum):
    """How an answer's text was checked against the documents."""

    QUOTED = "quoted"              #: the extractive writer quoted the documents
    VERIFIED = "verified"          #: every sentence of the LLM's reply is supported by what it cites
    LLM_ABSTAINED = "abstained"    #: the LLM said the documents hold no answer
    FALLBACK = "fallback"          #: the LLM's reply failed the check, or the LLM failed: extractive text shown


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What :func:`amqa.answer` returns.

    ``text`` holds inline ``[n]`` markers that refer to ``citations[n-1]``, best first. ``outcome``
    says whether it answers (:attr:`Outcome.ANSWERED`), shows only related passages, still cited
    (:attr:`Outcome.RELATED_ONLY`), or found nothing (:attr:`Outcome.NOTHING_FOUND`, no citation); the
    text says which, in the question's language. ``abstained`` is true whenever it does not answer.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    outcome: Outcome
    language: str
    #: Seconds per step ("load", "retrieve", "compose", "generate", "total").
    timings: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: "extractive", or the LLM that wrote the answer ("openai:MODEL@URL", "transformers:PATH").
    generator: str = "extractive"
    verification: Verification = Verification.QUOTED
    #: Why the verification ended as it did (for a fallback: what failed).
    verification_reason: str = ""
    #: The LLM's reply when it was not shown (fallback), for inspection.
    draft: str = ""

    def marked_text(self, before: str = "**", after: str = "**") -> str:
        """``text`` with the marked words of each quoted citation wrapped in ``before``/``after``."""
        out, last = [], 0
        for c in self.citations:
            at = self.text.find(c.text, last) if c.marks else -1
            if at < 0:
                continue
            out += [self.text[last:at], c.marked_text(before, after)]
            last = at + len(c.text)
        return "".join(out) + self.text[last:]

    @property
    def abstained(self) -> bool:
        """True when amqa does not present an answer (related passages only, or nothing found)."""
        return self.outcome is not Outcome.ANSWERED

    def to_dict(self) -> dict:
        """The JSON shape printed by ``amqa ask --json``."""
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "outcome": self.outcome.value,
            "language": self.language,
            "citations": [
                {"n": c.n, "source": c.source, "chunk_id": c.chunk_id, "start": c.start,
                 "end": c.end, "text": c.text, "score": round(c.score, 4), "marks": [list(m) for m in c.marks]}
                for c in self.citations
            ],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
            "generator": self.generator,
            "verification": self.verification.value,
            "verification_reason": self.verification_reason,
        }
