"""The question-answering engine: keeps one loaded index and answers from it.

>>> from amqa import Engine
>>> engine = Engine()                      # the seeds, the offline embedder; nothing loads yet
>>> a = engine.answer("Combien d'apprentis sont formés à Arts et Métiers ?")   # doctest: +SKIP
>>> print(a.text)                                                            # doctest: +SKIP
D'après les documents : « 1,000 apprentices are currently enrolled ... » [1]
>>> a.citations[0].source                                                    # doctest: +SKIP
'000_c8fb014e83a46547.txt'

Or in one line, with an engine cached per (docs, store, embedder)::

    from amqa import answer
    answer("Where will the Moroccan campus open?").text
"""
from __future__ import annotations

import os
import sys
import threading
import time

from dataclasses import replace
from pathlib import Path
from typing import Iterator

from .answering import FRAMES, compose
from .chunking import ChunkSettings
from .config import DEFAULT_K, MAX_QUESTION_CHARS, check_k, resolve_docs, resolve_store
from .embedders import Embedder, get_embedder
from .errors import InvalidInputError, NoDocumentsError
from .generation import ChatModel, GeneratorError, build_messages, get_generator, verify
from .retrieval import Searcher, SearchResult
from .store import IndexData, IndexReport, load_index, read_manifest, update_index
from .types import Answer


class Engine:
    """Answers questions over one documents folder and its index store. Safe to share between threads.

    Construction is cheap; the index and the model load on first use (or :meth:`warm_up`). Then the
    index is built from ``docs`` when missing, or catches up with files added, changed or removed
    since it was written; :meth:`index` does that again on demand.
    """

    def __init__(self, docs: str | os.PathLike | None = None, store: str | os.PathLike | None = None,
                 embedder: str | Embedder | None = None, k: int = DEFAULT_K,
                 chunking: ChunkSettings | None = None, progress: bool | None = None,
                 generator: str | ChatModel | None = None) -> None:
        self.docs = resolve_docs(docs)
        self.store = resolve_store(store, self.docs)
        self.embedder = get_embedder(embedder)
        self.k = check_k(k)
        self.chunking = chunking
        self.generator = get_generator(generator)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._searcher: Searcher | None = None
        self._lock = threading.Lock()

    # -- index -------------------------------------------------------------------------------

    def index(self, rebuild: bool = False) -> IndexReport:
        """Bring the index up to date with the documents folder (incremental) and reload it."""
        with self._lock:
            report = update_index(self.docs, self.store, self.embedder, self.chunking, rebuild=rebuild,
                                  progress=self.progress)
            if not report.up_to_date or self._searcher is None:
                self._searcher = self._searcher_for(report.index)
            return report

    def warm_up(self) -> "Engine":
        """Load (or build) the index and the embedding model now rather than on the first question."""
        searcher = self.searcher
        searcher.embedder.embed(["warm up"], "query")
        return self

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    self._searcher = self._searcher_for(self._refresh())
        return self._searcher

    def _refresh(self) -> IndexData | None:
        """Before the first question: build the index if missing, else catch up with files added,
        changed or removed since (cheap when nothing changed: one hash per file). An index built from
        another folder, or a documents folder that is gone, is used as it is (returns None)."""
        manifest = read_manifest(self.store)
        if manifest is None:
            if self.progress:
                print(f"amqa: no index in {self.store} yet; building it from {self.docs}", file=sys.stderr)
        elif not self.docs.is_dir() or Path(manifest.get("docs", "")) != self.docs.resolve():
            return None
        try:
            report = update_index(self.docs, self.store, self.embedder, self.chunking, progress=self.progress)
        except OSError as exc:
            if manifest is None:
                raise
            # A read-only store still answers, from the index it holds.
            print(f"amqa: could not update the index in {self.store} ({exc}); using it as it is",
                  file=sys.stderr)
            return None
        if manifest is not None and not report.up_to_date and self.progress:
            print(f"amqa: documents changed since the last index; {report.summary()}", file=sys.stderr)
        return report.index

    def _searcher_for(self, index: IndexData | None) -> Searcher:
        """A searcher over ``index``, or over the store's index when None."""
        if index is None:
            index = load_index(self.store, self.embedder, self.chunking)
        if index is None or not index.chunks:
            raise NoDocumentsError(f"the index in {self.store} is empty: add documents to {self.docs} "
                                   "and run: amqa index")
        return Searcher(index, self.embedder)

    @property
    def manifest(self) -> dict:
        return self.searcher.index.manifest

    # -- questions ---------------------------------------------------------------------------

    def search(self, question: str, k: int | None = None) -> SearchResult:
        question, _ = check_question(question)
        return self.searcher.search(question, check_k(k) if k is not None else self.k)

    def answer(self, question: str, k: int | None = None, generator: str | ChatModel | None = None) -> Answer:
        """Answer ``question`` from the documents, quoting and citing them (or abstaining).

        With an LLM ``generator`` (default: the engine's), the LLM writes the answer and amqa verifies
        it, falling back to the extractive answer when the check or the LLM fails.
        """
        for item in self.answer_stream(question, k, generator):
            if isinstance(item, Answer):
                return item
        raise AssertionError("answer_stream ends with an Answer")  # pragma: no cover

    def answer_stream(self, question: str, k: int | None = None,
                      generator: str | ChatModel | None = None) -> Iterator[str | Answer]:
        """Yield the LLM's reply as it arrives (text pieces, before verification), then the final
        :class:`Answer`. The extractive writer yields only the Answer."""
        t0 = time.perf_counter()
        question, warnings = check_question(question)
        k = check_k(k) if k is not None else self.k
        llm = self.generator if generator is None else get_generator(generator)
        searcher = self.searcher
        t1 = time.perf_counter()
        result = searcher.search(question, k)
        t2 = time.perf_counter()
        timings = {"load": t1 - t0, "retrieve": t2 - t1}
        extractive = compose(question, result, searcher, timings, warnings)
        timings["compose"] = time.perf_counter() - t2
        if llm is None or extractive.abstained:
            timings["total"] = time.perf_counter() - t0
            yield extractive
            return
        lang = extractive.language
        abstain_text = FRAMES[lang][1]
        pieces: list[str] = []
        t3 = time.perf_counter()
        try:
            for piece in llm.chat_stream(build_messages(question, result.hits, lang, abstain_text)):
                pieces.append(piece)
                yield piece
        except GeneratorError as exc:
            timings["total"] = time.perf_counter() - t0
            yield replace(extractive, generator=llm.id, verification=f"fallback: {exc}",
                          warnings=warnings + (f"LLM unavailable ({exc}); showing the extractive answer",))
            return
        timings["generate"] = time.perf_counter() - t3
        checked = verify("".join(pieces), result.hits, searcher, lang, abstain_text, result.query_vector)
        notes = warnings + ((f"removed {checked.removed_markers} citation marker(s) that point at no source",)
                            if checked.removed_markers else ())
        timings["total"] = time.perf_counter() - t0
        if checked.supported:
            yield Answer(question, checked.text, checked.citations, result.hits, checked.abstained, lang, timings,
                         notes, llm.id, "abstained" if checked.abstained else "verified")
        else:
            yield replace(extractive, generator=llm.id, verification=f"fallback: {checked.reason}",
                          draft=checked.text, warnings=notes + (
                              f"the LLM answer was not shown: {checked.reason}; showing the extractive answer",))


def check_question(question: str) -> tuple[str, tuple[str, ...]]:
    """Strip the question; refuse an empty one; cut a very long one, with a warning."""
    if not isinstance(question, str):
        raise InvalidInputError(f"question must be a string. Currently, question is {type(question).__name__}")
    question = question.strip()
    if not question:
        raise InvalidInputError("question is empty: ask something, e.g. \"Où se trouve le campus marocain ?\"")
    if len(question) > MAX_QUESTION_CHARS:
        return question[:MAX_QUESTION_CHARS], (
            f"question cut to its first {MAX_QUESTION_CHARS} characters (it had {len(question)})",)
    return question, ()


_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(docs=None, store=None, embedder=None) -> Engine:
    """The shared engine for these settings, created once per process."""
    docs_path = resolve_docs(docs)
    store_path = resolve_store(store, docs_path)
    key = (docs_path, store_path, embedder if isinstance(embedder, (str, type(None))) else id(embedder))
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(docs_path, store_path, embedder)
        return _engines[key]


def answer(question: str, *, k: int = DEFAULT_K, docs: str | os.PathLike | None = None,
           store: str | os.PathLike | None = None, embedder: str | Embedder | None = None) -> Answer:
    """Answer ``question`` over ``docs`` (default: the seeds) with cited sources.

    >>> from amqa import answer
    >>> a = answer("Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?")   # doctest: +SKIP
    >>> a.citations[0].source, a.abstained                                              # doctest: +SKIP
    ('001_3c9c59b90a3a1c43.txt', False)
    """
    return get_engine(docs, store, embedder).answer(question, k=k)


