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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from .answering import compose, frames
from .chunking import ChunkSettings
from .conversation import Turn, check_history, standalone
from .corpus import Corpus
from .embedders import Embedder, get_embedder
from .errors import GeneratorError, InvalidInputError, NoDocumentsError
from .llm import ChatModel, get_generator
from .policy import AnswerPolicy, policy_for
from .prompt import build_messages, rewrite_messages
from .retrieval import Searcher
from .settings import MAX_QUESTION_CHARS, Settings, check_k
from .store import IndexData, IndexReport, load_index, read_manifest, update_index
from .text import clean_text, detect_language
from .types import Answer, Outcome, Query, SearchResult, Verification
from .verification import Verifier


@dataclass(frozen=True)
class _Loaded:
    """One loaded index and what reads it; replaced whole when the index changes."""

    corpus: Corpus
    searcher: Searcher
    verifier: Verifier


class Engine:
    """Answers questions over one documents folder and its index store. Safe to share between threads.

    Construction is cheap; the index and the model load on first use (or :meth:`warm_up`). Then the
    index is built from ``docs`` when missing, or catches up with files added, changed or removed
    since it was written; :meth:`index` does that again on demand.

    Arguments left unset come from ``settings`` (default: :meth:`Settings.from_env`); ``policy``
    (abstention and verification thresholds) defaults to the one recorded for the embedder.
    """

    def __init__(self, docs: str | os.PathLike | None = None, store: str | os.PathLike | None = None,
                 embedder: str | Embedder | None = None, *, k: int | None = None,
                 chunking: ChunkSettings | None = None, progress: bool | None = None,
                 generator: str | ChatModel | None = None, settings: Settings | None = None,
                 policy: AnswerPolicy | None = None) -> None:
        self.settings = (settings or Settings.from_env()).replace(
            docs=Path(docs) if docs is not None else None, store=Path(store) if store is not None else None,
            k=check_k(k) if k is not None else None)
        self.docs = self.settings.docs_folder()
        self.store = self.settings.store_folder(self.docs)
        self.embedder = get_embedder(embedder, self.settings)
        self._policy = policy or policy_for(self.embedder.id)
        self.k = self.settings.k
        self.chunking = chunking
        self.generator = get_generator(generator, settings=self.settings)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    # -- index -------------------------------------------------------------------------------

    def index(self, rebuild: bool = False) -> IndexReport:
        """Bring the index up to date with the documents folder (incremental) and reload it."""
        with self._lock:
            report = update_index(self.docs, self.store, self.embedder, self.chunking, rebuild=rebuild,
                                  progress=self.progress)
            if not report.up_to_date or self._loaded is None:
                self._loaded = self._load(report.index)
            return report

    def warm_up(self) -> "Engine":
        """Load (or build) the index and the embedding model now rather than on the first question."""
        self._state()
        self.embedder.embed(["warm up"], "query")
        return self

    def _state(self) -> _Loaded:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load(self._refresh())
        return self._loaded

    @property
    def policy(self) -> AnswerPolicy:
        """Abstention and verification thresholds; setting it reaches the writer and the LLM verifier."""
        return self._policy

    @policy.setter
    def policy(self, policy: AnswerPolicy) -> None:
        with self._lock:
            self._policy = policy
            if self._loaded is not None:
                self._loaded = replace(self._loaded, verifier=Verifier(self._loaded.corpus, self.embedder, policy))

    @property
    def corpus(self) -> Corpus:
        """The loaded index (loaded or built on first use)."""
        return self._state().corpus

    @property
    def searcher(self) -> Searcher:
        return self._state().searcher

    @property
    def verifier(self) -> Verifier:
        return self._state().verifier

    @property
    def manifest(self) -> dict:
        return self.corpus.manifest

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

    def _load(self, index: IndexData | None) -> _Loaded:
        """The corpus, searcher and verifier over ``index``, or over the store's index when None."""
        if index is None:
            index = load_index(self.store, self.embedder, self.chunking)
        if index is None or not index.chunks:
            raise NoDocumentsError(f"the index in {self.store} is empty: add documents to {self.docs} "
                                   "and run: amqa index")
        corpus = Corpus(index)
        return _Loaded(corpus, Searcher(corpus, self.embedder), Verifier(corpus, self.embedder, self.policy))

    # -- questions ---------------------------------------------------------------------------

    def search(self, question: str, k: int | None = None) -> SearchResult:
        question, _ = check_question(question)
        return self.searcher.search(question, check_k(k) if k is not None else self.k)

    def answer(self, question: str, k: int | None = None, generator: str | ChatModel | None = None, *,
               history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        """Answer ``question`` from the documents, quoting and citing them (or abstaining).

        ``history``: the earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``; a
        follow-up ("Et quand ?") is searched with the subject of the question before it
        (:mod:`amqa.conversation`; ``Answer.standalone_question`` says what was searched).
        With an LLM ``generator`` (default: the engine's), the LLM writes the answer and amqa verifies
        it, falling back to the extractive answer when the check or the LLM fails.
        """
        for item in self.answer_stream(question, k, generator, history=history):
            if isinstance(item, Answer):
                return item
        raise AssertionError("answer_stream ends with an Answer")  # pragma: no cover

    def answer_stream(self, question: str, k: int | None = None, generator: str | ChatModel | None = None, *,
                      history: Sequence[Mapping[str, str]] | None = None) -> Iterator[str | Answer]:
        """Yield the LLM's reply as it arrives (text pieces, before verification), then the final
        :class:`Answer`. The extractive writer yields only the Answer."""
        t0 = time.perf_counter()
        question, warnings = check_question(question)
        turns = check_history(history)
        k = check_k(k) if k is not None else self.k
        llm = self.generator if generator is None else get_generator(generator, settings=self.settings)
        state = self._state()
        t1 = time.perf_counter()
        query, llm_failure = self._standalone_query(state, question, turns, llm)
        result = state.searcher.search(query, k)
        t2 = time.perf_counter()
        extractive = compose(result, state.corpus, self.policy, warnings=warnings)
        extractive = replace(extractive, question=question, standalone_question=query.text,
                             citations=state.corpus.with_pages(extractive.citations))
        timings = {"load": t1 - t0, "retrieve": t2 - t1, "compose": time.perf_counter() - t2}
        if llm is not None and llm_failure is not None:
            timings["total"] = time.perf_counter() - t0
            yield replace(extractive, generator=llm.id, verification=Verification.FALLBACK, timings=timings,
                          verification_reason=str(llm_failure), warnings=extractive.warnings + (
                              f"LLM unavailable ({llm_failure}); showing the extractive answer",))
            return
        if llm is None or extractive.abstained:
            timings["total"] = time.perf_counter() - t0
            yield replace(extractive, timings=timings)
            return
        yield from self._llm_answer(llm, result, extractive, state, timings, t0)

    def _standalone_query(self, state: _Loaded, question: str, turns: tuple[Turn, ...],
                          llm: ChatModel | None) -> tuple[Query, GeneratorError | None]:
        """The query to search: the question, or for a follow-up the question with its context (an
        LLM writer may rewrite it; its rewrite is kept only when it stays about the conversation:
        similarity to the follow-up followed by the resolved previous question at least the policy's
        ``rewrite_above``). The answer's language is the question's own. Also the LLM's failure, if
        it failed: the answer then does not ask it again (one ``--llm-timeout`` per question)."""
        language = detect_language(question)
        resolved = standalone(question, turns)
        query = state.searcher.query(resolved.text, language)
        if llm is None or not resolved.follow_up:
            return query, None
        try:
            rewrite = " ".join("".join(llm.reply_stream(rewrite_messages(question, turns))).split())
        except GeneratorError as exc:
            return query, exc
        if not rewrite or len(rewrite) > MAX_QUESTION_CHARS:
            return query, None
        candidate = state.searcher.query(rewrite, language)
        reference = state.searcher.query(f"{question} ({resolved.context})", language)
        if float(candidate.vector @ reference.vector) < self.policy.rewrite_above:
            return query, None  # the LLM wandered off the conversation
        return candidate, None

    def _llm_answer(self, llm: ChatModel, result: SearchResult, extractive: Answer, state: _Loaded,
                    timings: dict[str, float], t0: float) -> Iterator[str | Answer]:
        """Stream the LLM's reply, then the verified answer, or the extractive one and why."""
        lang = extractive.language
        abstain_text = frames(lang)[1]
        pieces: list[str] = []
        t3 = time.perf_counter()
        try:
            for piece in llm.reply_stream(build_messages(result.query.text, result.hits, lang, abstain_text)):
                pieces.append(piece)
                yield piece
        except GeneratorError as exc:
            timings["total"] = time.perf_counter() - t0
            yield replace(extractive, generator=llm.id, verification=Verification.FALLBACK,
                          verification_reason=str(exc), timings=timings,
                          warnings=extractive.warnings + (f"LLM unavailable ({exc}); showing the extractive answer",))
            return
        timings["generate"] = time.perf_counter() - t3
        checked = state.verifier.check("".join(pieces), result.hits, lang, abstain_text, result.query.vector)
        notes = extractive.warnings + ((f"removed {checked.removed_markers} citation marker(s) that point at no "
                                        "source",) if checked.removed_markers else ())
        timings["total"] = time.perf_counter() - t0
        if checked.supported:
            yield Answer(question=extractive.question, standalone_question=extractive.standalone_question,
                         text=checked.text, hits=result.hits,
                         citations=state.corpus.with_pages(checked.citations), language=lang, timings=timings,
                         outcome=Outcome.NOTHING_FOUND if checked.abstained else Outcome.ANSWERED,
                         warnings=notes, generator=llm.id, verification_reason=checked.reason,
                         verification=Verification.LLM_ABSTAINED if checked.abstained else Verification.VERIFIED)
        else:
            yield replace(extractive, generator=llm.id, verification=Verification.FALLBACK,
                          verification_reason=checked.reason, draft=checked.text, timings=timings,
                          warnings=notes + (f"the LLM answer was not shown: {checked.reason}; "
                                            "showing the extractive answer",))


def check_question(question: str) -> tuple[str, tuple[str, ...]]:
    """Strip the question; refuse an empty one; replace invalid characters and cut a very long one,
    with a warning."""
    if not isinstance(question, str):
        raise InvalidInputError(f"question must be a string. Currently, question is {type(question).__name__}")
    warnings: tuple[str, ...] = ()
    if clean_text(question) != question:  # invalid UTF-8 from a terminal, or a lone surrogate from a program
        question = clean_text(question)
        warnings = ("the question held bytes that are not valid text; they were replaced by \ufffd",)
    question = question.strip()
    if not question.strip("\ufffd \t"):
        raise InvalidInputError("question is empty: ask something, e.g. \"Où se trouve le campus marocain ?\"")
    if len(question) > MAX_QUESTION_CHARS:
        return question[:MAX_QUESTION_CHARS], warnings + (
            f"question cut to its first {MAX_QUESTION_CHARS} characters (it had {len(question)})",)
    return question, warnings



_engines: dict[tuple, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(docs: str | os.PathLike | None = None, store: str | os.PathLike | None = None,
               embedder: str | Embedder | None = None, settings: Settings | None = None) -> Engine:
    """The shared engine for these settings, created once per process."""
    settings = settings or Settings.from_env()
    docs_path = settings.replace(docs=Path(docs) if docs is not None else None).docs_folder()
    settings = settings.replace(docs=docs_path, store=Path(store) if store is not None else None)
    key = (settings, embedder if isinstance(embedder, (str, type(None))) else id(embedder))
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(embedder=embedder, settings=settings)
        return _engines[key]


def answer(question: str, *, history: Sequence[Mapping[str, str]] | None = None, k: int | None = None,
           docs: str | os.PathLike | None = None, store: str | os.PathLike | None = None,
           embedder: str | Embedder | None = None) -> Answer:
    """Answer ``question`` over ``docs`` (default: the bundled seeds) with cited sources; ``history``:
    the conversation so far (``[{"role": "user"|"assistant", "content": str}, ...]``).

    Unset arguments come from the environment (:class:`~amqa.settings.Settings`).

    >>> from amqa import answer
    >>> a = answer("Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?")   # doctest: +SKIP
    >>> a.citations[0].source, a.abstained                                              # doctest: +SKIP
    ('001_3c9c59b90a3a1c43.txt', False)
    """
    return get_engine(docs, store, embedder).answer(question, k=k, history=history)
