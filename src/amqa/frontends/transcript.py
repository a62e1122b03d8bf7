"""Transcripts: conversations as the web chat keeps them, each turn with its question, answer and sources.

A :class:`Turn` is made from an :class:`~amqa.types.Answer` (:meth:`Turn.from_answer`) and keeps what
a person needs to read it later, without the index: the answer text with its answering words marked,
and for each ``[n]`` the document's title, file, page, the quote and the passage around it. A
:class:`Conversation` gives the engine its history (:meth:`Conversation.history`, the ``history=`` of
:meth:`amqa.Engine.answer_stream`).

Conversations travel to the browser's storage and back as plain JSON (:func:`dump_conversations`,
:func:`load_conversations`). What comes back is not trusted: every field is type-checked and cut to
size, and anything malformed is dropped, never shown as it was.

>>> c = Conversation.new()
>>> c.turns.append(Turn(question="Où ?", text="À Rabat [1].", sources=(), outcome="answered"))
>>> c.history()
[{'role': 'user', 'content': 'Où ?'}, {'role': 'assistant', 'content': 'À Rabat [1].'}]
>>> [x.question for x in load_conversations(dump_conversations([c], c.id))[0][0].turns]
['Où ?']
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from amqa.settings import MAX_QUESTION_CHARS
from amqa.text import MARKDOWN_SUFFIXES, readable
from amqa.types import Answer, Citation, Chunk

#: The answering words travel in a turn's text and quotes between these two private-use characters.
MARK = ("\ue000", "\ue001")
#: Outcomes of a turn besides :class:`~amqa.types.Outcome`'s: the answer failed, or was stopped.
ERROR, STOPPED = "error", "stopped"
#: Conversations kept in the browser: the newest 30, and at most 600,000 characters of JSON in all
#: (a turn with three sources and their passages is 3 to 5 KB, so about 150 answers; Chromium keeps
#: 5 MB of storage per site, and the store is encrypted and sent whole on every save).
MAX_CONVERSATIONS = 30
MAX_STORED_CHARS = 600_000
MAX_TEXT_CHARS = 20_000   # an answer (an LLM's included) is a few thousand characters at most
MAX_PASSAGE_CHARS = 5_000  # a chunk is at most 900 characters (amqa.ingest.chunking.ChunkSettings), more for LLM ones
MAX_SOURCES = 50          # one per passage retrieved, at most amqa.settings.MAX_K
TITLE_CHARS = 60


@dataclass(frozen=True)
class SourceRef:
    """One ``[n]`` of an answer: the document (title and file), where in it (``p. 2``, ``slide 3``),
    the quote as it reads with its answering words (``marks``, spans of ``quote``), and the passage it
    was found in with the quote's place in it (``at``; ``(0, 0)`` when the passage is unknown)."""

    n: int
    source: str
    title: str
    location: str
    quote: str
    marks: tuple[tuple[int, int], ...] = ()
    passage: str = ""
    at: tuple[int, int] = (0, 0)

    @classmethod
    def from_citation(cls, c: Citation, chunk: Chunk | None) -> "SourceRef":
        marked = c.marked_text(*MARK)
        quote, marks = _unmark(marked)
        passage, at = "", (0, 0)
        if chunk is not None and chunk.start <= c.start and c.end <= chunk.end:
            shown = readable(chunk.text, markdown=chunk.source.lower().endswith(MARKDOWN_SUFFIXES))
            passage, at = shown.text, shown.span(c.start - chunk.start, c.end - chunk.start)
        return cls(n=c.n, source=c.source, title=chunk.title if chunk is not None else "", location=c.location,
                   quote=quote, marks=marks, passage=passage, at=at)


@dataclass(frozen=True)
class Turn:
    """A question and its answer. ``text`` is the answer as read, its answering words between the
    :data:`MARK` characters; ``outcome`` an :class:`~amqa.types.Outcome` value, :data:`ERROR` or
    :data:`STOPPED`; ``note`` a line shown under it (why an LLM answer was not shown...);
    ``searched`` the question as searched, when the conversation made it differ from ``question``."""

    question: str
    text: str
    sources: tuple[SourceRef, ...]
    outcome: str
    note: str = ""
    searched: str = ""

    @classmethod
    def from_answer(cls, question: str, answer: Answer, note: str = "") -> "Turn":
        chunks = {h.chunk.id: h.chunk for h in answer.hits}
        searched = getattr(answer, "standalone_question", "") or ""
        return cls(question=question, text=answer.marked_text(*MARK),
                   sources=tuple(SourceRef.from_citation(c, chunks.get(c.chunk_id)) for c in answer.citations),
                   outcome=answer.outcome.value, note=note,
                   searched=searched if searched.strip() != question.strip() else "")

    @property
    def plain_text(self) -> str:
        """The answer without its marks."""
        return self.text.replace(MARK[0], "").replace(MARK[1], "")


@dataclass
class Conversation:
    """A conversation: its turns, oldest first, under an id and a title (its first question)."""

    id: str
    turns: list[Turn] = field(default_factory=list)
    updated: float = 0.0

    @classmethod
    def new(cls) -> "Conversation":
        return cls(id=uuid.uuid4().hex[:12], updated=time.time())

    @property
    def title(self) -> str:
        first = self.turns[0].question if self.turns else ""
        return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS - 1].rstrip() + "…"

    def history(self) -> list[dict[str, str]]:
        """The turns so far as the engine takes them (``history=``): a question and its answer each,
        oldest first; failed and stopped turns are left out (they hold no answer)."""
        out: list[dict[str, str]] = []
        for t in self.turns:
            if t.outcome not in (ERROR, STOPPED):
                out += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.plain_text}]
        return out


def _unmark(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A text with :data:`MARK` pairs as (text, spans of the marked words).

    >>> _unmark("en \ue0002027\ue001 ici")
    ('en 2027 ici', ((3, 7),))
    """
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    start = -1
    for ch in marked:
        if ch == MARK[0]:
            start = len(out)
        elif ch == MARK[1]:
            if start >= 0:
                spans.append((start, len(out)))
            start = -1
        else:
            out.append(ch)
    return "".join(out), tuple(spans)


# --- to and from the browser's storage --------------------------------------------------------

def dump_conversations(conversations: list[Conversation], current: str) -> dict[str, Any]:
    """The conversations as JSON for the browser: newest first, empty ones left out, the oldest dropped
    beyond :data:`MAX_CONVERSATIONS` or :data:`MAX_STORED_CHARS`."""
    kept = sorted((c for c in conversations if c.turns), key=lambda c: c.updated, reverse=True)[:MAX_CONVERSATIONS]
    out: list[dict[str, Any]] = []
    size = 0
    for c in kept:
        item = {"id": c.id, "updated": c.updated, "turns": [_turn_dict(t) for t in c.turns]}
        size += len(repr(item))
        if size > MAX_STORED_CHARS and out:
            break
        out.append(item)
    return {"version": 1, "current": current, "conversations": out}


def load_conversations(data: Any) -> tuple[list[Conversation], str]:
    """Conversations and the current id from what the browser stored (anything malformed is dropped)."""
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("conversations"), list):
        return [], ""
    conversations = []
    for item in data["conversations"][:MAX_CONVERSATIONS]:
        try:
            cid = _str(item["id"], 40)
            turns = [t for t in (_turn(x) for x in item["turns"][:1000]) if t is not None]
            updated = float(item.get("updated", 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if cid and turns and cid.isalnum():
            conversations.append(Conversation(id=cid, turns=turns, updated=updated))
    current = data.get("current")
    return conversations, current if isinstance(current, str) else ""


def _turn_dict(t: Turn) -> dict[str, Any]:
    return {"question": t.question, "text": t.text, "outcome": t.outcome, "note": t.note, "searched": t.searched,
            "sources": [{"n": s.n, "source": s.source, "title": s.title, "location": s.location, "quote": s.quote,
                         "marks": [list(m) for m in s.marks], "passage": s.passage, "at": list(s.at)}
                        for s in t.sources]}


def _turn(x: Any) -> Turn | None:
    try:
        sources = tuple(_source(s) for s in x["sources"][:MAX_SOURCES])
        return Turn(question=_str(x["question"], MAX_QUESTION_CHARS), text=_str(x["text"], MAX_TEXT_CHARS),
                    sources=sources, outcome=_str(x["outcome"], 20), note=_str(x.get("note", ""), 2000),
                    searched=_str(x.get("searched", ""), MAX_QUESTION_CHARS))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _source(s: Any) -> SourceRef:
    quote, passage = _str(s["quote"], MAX_PASSAGE_CHARS), _str(s["passage"], MAX_PASSAGE_CHARS)
    at = _span(s["at"], len(passage))
    return SourceRef(n=_int(s["n"]), source=_str(s["source"], 500), title=_str(s["title"], 300),
                     location=_str(s["location"], 40), quote=quote,
                     marks=tuple(_span(m, len(quote)) for m in s["marks"][:20]), passage=passage, at=at)


def _str(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value[:limit]


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise ValueError("not a small integer")
    return value


def _span(value: Any, length: int) -> tuple[int, int]:
    a, b = (_int(v) for v in value)
    if not a <= b <= length:
        raise ValueError("span out of its text")
    return a, b
