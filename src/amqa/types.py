"""The typed values that flow through amqa.

``files -> Document -> Chunk -> vectors -> index -> Hit -> Answer(text, citations)``
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import PurePosixPath
from typing import Callable, Mapping, Sequence

import numpy as np

from amqa.text import MARKDOWN_SUFFIXES, Readable, readable

#: Formats whose pages are slides (a citation says "slide 3", not "p. 3").
SLIDE_SUFFIXES = (".pptx", ".odp")


def page_at(starts: Sequence[int], offset: int) -> int | None:
    """The 1-based page holding character ``offset``, given where pages start (None without pages).

    >>> page_at((0, 11, 11, 30), 12), page_at((0, 11), 3), page_at((), 5)
    (3, 1, None)
    """
    if not starts:
        return None
    return max(1, bisect.bisect_right(starts, offset))


@dataclass(frozen=True)
class Message:
    """One earlier message of a conversation (``role`` "user" or "assistant"), as OpenAI and Gradio send
    them; checked by :func:`amqa.service.conversation.check_history`."""

    role: str
    content: str


@dataclass(frozen=True)
class Document:
    """One source file, as read from the documents folder.

    ``source`` is the path relative to that folder (what citations show); ``text`` is the decoded
    text (visible text for HTML, the text layer for PDF, the extracted text for other formats) that
    character offsets refer to. ``pages`` holds the offset where each page (a slide, for a
    presentation) starts in ``text``; it is empty for formats without pages.
    """

    source: str
    title: str
    text: str
    language: str
    sha256: str
    pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, or None for a format without pages.

        >>> Document("a.pdf", "A", "Page one. Page two.", "en", "0", pages=(0, 10)).page_at(12)
        2
        """
        return page_at(self.pages, offset)


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
class ChunkSentences:
    """The embedded sentences of one chunk, in document order, as the index holds them: their spans
    (document offsets), BM25 tokens and unit vectors. What the answer writers and the verifier read of
    the index, so that neither needs the index itself.

    >>> cs = ChunkSentences(spans=((0, 9), (10, 20)), tokens=(frozenset({"a"}), frozenset({"b"})),
    ...                     vectors=np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32))
    >>> cs.best(np.array([0.0, 1.0], dtype=np.float32))
    (1, 0.800000011920929)
    """

    spans: tuple[tuple[int, int], ...]
    tokens: tuple[frozenset[str], ...]
    vectors: np.ndarray = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.spans)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of each sentence to ``vector`` (both L2-normalised)."""
        return self.vectors @ vector

    def best(self, vector: np.ndarray) -> tuple[int, float] | None:
        """(position, similarity) of the sentence closest to ``vector``; None when there is none."""
        if not self.spans:
            return None
        sims = self.similarities(vector)
        i = int(np.argmax(sims))
        return i, float(sims[i])


@dataclass(frozen=True, kw_only=True)
class Hit:
    """A retrieved chunk with the fused score and what each retriever said of it.

    ``dense_rank``/``bm25_rank`` are 1-based, ``None`` when that retriever did not rank the chunk.
    ``dense_score`` is the raw similarity (chunk plus best sentence); ``dense_rank`` is the order after
    language centering (:attr:`amqa.retrieval.search.RetrievalConfig.language_centering`) when the documents mix languages.
    """

    chunk: Chunk
    rank: int
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None
    #: The chunk's embedded sentences (set by retrieval; None for a hit made by hand).
    sentences: ChunkSentences | None = field(default=None, repr=False, compare=False)


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
    none is, shared words are not to be expected). ``idf`` holds the inverse document frequency of
    each query word some chunk holds, ``unseen_idf`` that of a word none holds; ``pages`` where each
    page starts in the hits' files that have pages. With each hit's
    :attr:`~Hit.sentences`, that is all the writers read of the index.
    """

    hits: tuple[Hit, ...]
    query: Query
    corpus_has_language: bool = True
    idf: Mapping[str, float] = field(default_factory=dict)
    unseen_idf: float = 0.0
    pages: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def with_pages(self, citations: Sequence["Citation"]) -> tuple["Citation", ...]:
        """The citations with the page where each quote starts (None for a file without pages)."""
        return tuple(replace(c, page=page_at(self.pages.get(c.source, ()), c.start)) for c in citations)


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A quoted passage behind an ``[n]`` marker: ``text == document.text[start:end]``, exactly.

    What a person reads is :attr:`quote`: the same text without Markdown syntax, link targets or image
    credits (:func:`amqa.text.readable`).
    """

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
    #: The 1-based page (slide, for a presentation) where the quote starts; None for a format without
    #: pages. Set by the :class:`~amqa.Engine` from the pages its index recorded.
    page: int | None = None

    @property
    def quote(self) -> str:
        """``text`` as it reads: no ``**``, no ``[texte](url)`` target, no "// © credit".

        >>> Citation(n=1, source="a.md", chunk_id="a.md#0", start=0, end=36,
        ...          text="Voir [le site](https://a.org) **vite**.", score=1.0).quote
        'Voir le site vite.'
        """
        return self.readable().text

    def readable(self) -> Readable:
        """:attr:`quote` and where each of its characters is in :attr:`text` (see :func:`amqa.text.readable`;
        a Markdown file's quotes lose their "# " headings too)."""
        return readable(self.text, markdown=self.source.lower().endswith(MARKDOWN_SUFFIXES))

    @property
    def location(self) -> str:
        """Where the quote is, for a person: ``p. 2``, ``slide 3``, or '' without pages.

        >>> Citation(n=1, source="deck.pptx", chunk_id="deck.pptx#1", start=0, end=1, text="x", score=1.0,
        ...          page=3).location
        'slide 3'
        """
        if self.page is None:
            return ""
        return f"{'slide' if PurePosixPath(self.source).suffix.lower() in SLIDE_SUFFIXES else 'p.'} {self.page}"

    def marked_text(self, before: str = "**", after: str = "**", escape: Callable[[str], str] = str) -> str:
        """:attr:`quote` with each mark wrapped in ``before``/``after`` (Markdown bold by default); the
        marks, spans of the document, land on the same words in the cleaned quote. ``escape`` is applied
        to the quote's text, not to ``before``/``after`` (:func:`amqa.text.printable` for a terminal).

        >>> Citation(n=1, source="a", chunk_id="a#0", start=10, end=30, text="Opened in 2027 here.",
        ...          score=1.0, marks=((20, 24),)).marked_text()
        'Opened in **2027** here.'
        >>> Citation(n=1, source="a", chunk_id="a#0", start=10, end=37, text="Opened in *2027* [here](u).",
        ...          score=1.0, marks=((21, 25),)).marked_text("<b>", "</b>")
        'Opened in <b>2027</b> here.'
        """
        shown = self.readable()
        out, last = [], 0
        for a, b in self.marks:
            i, j = shown.span(a - self.start, b - self.start)
            if j <= i or i < last:  # nothing of the mark is left, or it overlaps the previous one
                continue
            out += [escape(shown.text[last:i]), before, escape(shown.text[i:j]), after]
            last = j
        return "".join(out) + escape(shown.text[last:])


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


class ReaderVerdict(str, Enum):
    """What an LLM reader (:mod:`amqa.writers.reader`) said of an extractive answer's passage."""

    STATES = "states"              #: the passage states the answer: the answer is shown as it is
    DOES_NOT = "does_not"          #: it does not: the quotes are shown as related passages only
    UNKNOWN = "unknown"            #: no usable verdict (slow, down, neither yes nor no): shown as it is


class WriterKind(str, Enum):
    """Which answering slots a writer uses (:class:`amqa.service.admission.Admission`): the CPU's, or an LLM's."""

    EXTRACTIVE = "extractive"  #: answers in milliseconds on the CPU
    LLM = "llm"                #: waits on an LLM, up to its timeout


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
    #: What was searched: the question itself, or for a follow-up the question with the subject of the
    #: conversation ("Et quand ?" after a question about the Moroccan campus: "quand Arts et Métiers
    #: va-t-il ouvrir un campus au Maroc ?").
    standalone_question: str = ""
    #: What the LLM reader said of the passage (``--reader llm``); None when it did not read this answer.
    reader: ReaderVerdict | None = None

    def marked_text(self, before: str = "**", after: str = "**", escape: Callable[[str], str] = str) -> str:
        """``text`` as a person reads it: each quoted citation as its :attr:`Citation.quote` (found in
        ``text`` as the quote, or as the raw passage), its marked words wrapped in ``before``/``after``;
        ``escape`` applied to the text, not to them."""
        out, last = [], 0
        for c in self.citations:
            quote = c.quote
            at, length = self.text.find(quote, last), len(quote)
            if at < 0:
                at, length = self.text.find(c.text, last), len(c.text)
            if at < 0:
                continue
            out += [escape(self.text[last:at]), c.marked_text(before, after, escape)]
            last = at + length
        return "".join(out) + escape(self.text[last:])

    @property
    def abstained(self) -> bool:
        """True when amqa does not present an answer (related passages only, or nothing found)."""
        return self.outcome is not Outcome.ANSWERED

    def to_dict(self) -> dict:
        """The JSON shape printed by ``amqa ask --json``."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "outcome": self.outcome.value,
            "language": self.language,
            "citations": [
                {"n": c.n, "source": c.source, "page": c.page, "chunk_id": c.chunk_id, "start": c.start,
                 "end": c.end, "text": c.text, "quote": c.quote, "score": round(c.score, 4),
                 "marks": [list(m) for m in c.marks]}
                for c in self.citations
            ],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
            "generator": self.generator,
            "verification": self.verification.value,
            "verification_reason": self.verification_reason,
            "reader": self.reader.value if self.reader is not None else None,
        }
