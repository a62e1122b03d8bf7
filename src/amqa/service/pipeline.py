"""The answering pipeline: question -> standalone query -> search -> writer -> :class:`~amqa.types.Answer`.

One pass for every front end: the question is checked (:func:`check_question`), a follow-up is made
standalone (:func:`amqa.service.conversation.standalone`, or the LLM writer's rewrite when it stays about the
conversation), the keeper's index is searched (:class:`~amqa.retrieval.search.Searcher`; a hit whose file
has gone forces a folder check first), and the writer writes (:mod:`amqa.writers`).
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

from amqa.embedders import Embedder
from amqa.errors import GeneratorError, InvalidInputError, ServiceBusyError
from amqa.retrieval.search import RetrievalConfig, Searcher
from amqa.service.admission import Admission
from amqa.service.conversation import check_history, standalone
from amqa.service.keeper import IndexKeeper, Loaded
from amqa.settings import MAX_QUESTION_CHARS, Settings, check_k
from amqa.text import clean_text, detect_language
from amqa.threads import one_blas_thread
from amqa.types import Answer, Message, Query, ReaderVerdict, SearchResult, Verification, WriterKind
from amqa.writers import AnswerWriter, Draft, WriterContext, get_writer
from amqa.writers.extractive.sentences import WriterConfig
from amqa.writers.llm.verification import Verifier
from amqa.writers.policy import AnswerPolicy
from amqa.writers.reader import Reader, as_related, get_reader, passage_of, should_read

if TYPE_CHECKING:
    from amqa.writers.llm.models import ChatModel


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


class AnsweringPipeline:
    """Answers from ``keeper``'s index with ``writer`` (a spec, a ChatModel or a writer; None: the
    settings' generator), ``k`` hits, under ``policy``, with the tunables of ``retrieval`` (the search)
    and ``writer_config`` (the extractive writer, which every writer falls back to). Each answer holds
    one of ``admission``'s slots of its writer's kind while it is searched and written; then ``reader``
    (default: the settings' ``--reader``) reads an extractive answer in one of its LLM slots.

    A writer given as an object is used as it is (its own policy and tunables); given as a spec (or a
    ChatModel), it is made again when :attr:`policy` or :attr:`writer_config` change."""

    def __init__(self, keeper: IndexKeeper, embedder: Embedder, policy: AnswerPolicy, settings: Settings, *,
                 k: int, writer: "str | ChatModel | AnswerWriter | None" = None,
                 retrieval: RetrievalConfig | None = None, writer_config: WriterConfig | None = None,
                 admission: Admission | None = None, reader: Reader | None = None) -> None:
        self.keeper = keeper
        self.admission = admission or Admission()
        self._lock = threading.Lock()  # the setters and the searcher cache
        self.embedder = embedder
        self.settings = settings
        self.k = k
        self._policy = policy
        self._retrieval = retrieval or RetrievalConfig()
        self._writer_config = writer_config or WriterConfig()
        self._spec = writer
        self._searcher: Searcher | None = None
        self._writers()
        #: Reads an extractive answer's passage before it is shown (:mod:`amqa.writers.reader`); default:
        #: the settings' ``--reader``.
        self.reader = reader if reader is not None else get_reader(settings)

    @property
    def writer_spec(self) -> "str | ChatModel | AnswerWriter | None":
        """What the default writer was made from (to make the same one elsewhere)."""
        return self._spec

    def _writers(self) -> None:
        """The writers, made again when the policy or the writer's tunables change (lock held, or in
        the constructor)."""
        self.context = WriterContext(embedder=self.embedder, policy=self._policy, settings=self.settings,
                                     config=self._writer_config)
        self.extractive = get_writer("extractive", self.context)
        self.writer = get_writer(self._spec, self.context)
        self.verifier = Verifier(self.embedder, self._policy)

    @property
    def policy(self) -> AnswerPolicy:
        """Abstention and verification thresholds; setting it reaches the writers and the LLM verifier."""
        return self._policy

    @policy.setter
    def policy(self, policy: AnswerPolicy) -> None:
        with self._lock:
            self._policy = policy
            self._writers()

    @property
    def writer_config(self) -> WriterConfig:
        """The extractive writer's tunables; setting it reaches every writer (the tuning scripts use it)."""
        return self._writer_config

    @writer_config.setter
    def writer_config(self, config: WriterConfig) -> None:
        with self._lock:
            self._writer_config = config
            self._writers()

    @property
    def retrieval(self) -> RetrievalConfig:
        """The fusion's tunables; setting it reaches the searcher (the tuning scripts use it)."""
        return self._retrieval

    @retrieval.setter
    def retrieval(self, config: RetrievalConfig) -> None:
        with self._lock:
            self._retrieval = config
            self._searcher = None

    def searcher_of(self, loaded: Loaded) -> Searcher:
        """The searcher over ``loaded``'s backend (made again when the index was reloaded)."""
        with self._lock:
            searcher = self._searcher
            if searcher is None or searcher.backend is not loaded.backend or searcher.config is not self._retrieval:
                searcher = self._searcher = Searcher(loaded.backend, self.embedder, self._retrieval)
            return searcher

    def writer_for(self, spec: "str | ChatModel | AnswerWriter | None") -> AnswerWriter:
        """The writer for one question: the pipeline's own for None or its own LLM, else from ``spec``."""
        if spec is None or spec is self.writer or spec is getattr(self.writer, "model", None):
            return self.writer
        if spec == "extractive":
            return self.extractive
        return get_writer(spec, self.context)

    def search(self, question: str, k: int | None = None) -> SearchResult:
        question, _ = check_question(question)
        return self.searcher_of(self.keeper.state()).search(question, check_k(k) if k is not None else self.k)

    def answer_stream(self, question: str, k: int | None = None,
                      writer: "str | ChatModel | AnswerWriter | None" = None, *,
                      history: Sequence[Mapping[str, str]] | None = None,
                      wait: float | None = None) -> Iterator[str | Answer]:
        """Yield the writer's text as it arrives (an LLM's reply, before verification), then the final
        :class:`Answer`. The extractive writer yields only the Answer.

        Once the index is loaded, the answer waits for a slot of its writer's kind (``wait`` seconds,
        default :attr:`AdmissionLimits.wait`; ``math.inf``: as long as it takes; else
        :class:`~amqa.errors.ServiceBusyError`) and gives it back before the Answer is yielded. The
        "load" timing includes that wait."""
        t0 = time.perf_counter()
        question, warnings = check_question(question)
        turns = check_history(history)
        k = check_k(k) if k is not None else self.k
        chosen = self.writer_for(writer)
        loaded = self.keeper.state()
        final: Answer | None = None
        with self.admission.slot(chosen.kind, wait):
            t1 = time.perf_counter()
            for item in self._written(chosen, loaded, question, warnings, turns, k):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
        assert final is not None, "a writer ends with an Answer"
        final = self._read(final, wait)
        yield replace(final, timings={"load": t1 - t0} | dict(final.timings) | {"total": time.perf_counter() - t0})

    def _read(self, answer: Answer, wait: float | None) -> Answer:
        """``answer`` as the reader leaves it: related passages only when it says the passage does not
        state the answer; as it is otherwise (its verdict and "read" timing recorded). The one place a
        reader is applied, after the writer: a verified LLM answer is not read (:func:`should_read`).
        It takes an LLM slot (the reader waits on the LLM, not the CPU); none free within the reader's
        timeout is an UNKNOWN verdict."""
        reader = self.reader
        if reader is None or not should_read(answer):
            return answer
        t0 = time.perf_counter()
        timeout = self.settings.reader_timeout if wait is None else min(wait, self.settings.reader_timeout)
        try:
            with self.admission.slot(WriterKind.LLM, timeout):
                verdict = reader.verdict(answer.standalone_question or answer.question, answer.language,
                                         passage_of(answer, reader.config))
        except ServiceBusyError:
            verdict = ReaderVerdict.UNKNOWN
        read = replace(answer, reader=verdict, timings=dict(answer.timings) | {"read": time.perf_counter() - t0})
        # Beside an LLM abstention (OnAbstention.EXTRACTIVE) the reader has the last word; without its
        # word the LLM's stands: related passages, as without a reader.
        doubted = verdict is ReaderVerdict.UNKNOWN and answer.verification is Verification.LLM_ABSTAINED
        return as_related(read) if verdict is ReaderVerdict.DOES_NOT or doubted else read

    def _written(self, chosen: AnswerWriter, loaded: Loaded, question: str, warnings: tuple[str, ...],
                 turns: tuple[Message, ...], k: int) -> Iterator[str | Answer]:
        """Search and write, in the slot: the writer's pieces, then its Answer with "retrieve" timed."""
        keeper = self.keeper
        t1 = time.perf_counter()
        searcher = self.searcher_of(loaded)
        query, failure = self._standalone_query(searcher, question, turns, chosen)
        with one_blas_thread():
            result = searcher.search(query, k)
            if keeper.follows and any(not keeper.exists(h.chunk.source) for h in result.hits):
                searcher = self.searcher_of(keeper.state(force_check=True))  # a file went since the last check
                result = searcher.search(query, k)
            stale = keeper.stale
            if stale and keeper.follows:  # the index is behind the folder: a file gone since is still not cited
                result = replace(result, hits=tuple(h for h in result.hits if keeper.exists(h.chunk.source)))
        t2 = time.perf_counter()
        draft = Draft(result=result, question=question, warnings=warnings + ((stale,) if stale else ()),
                      failure=str(failure) if failure is not None else None)
        for item in chosen.write(draft):
            if isinstance(item, Answer):
                item = replace(item, timings={"retrieve": t2 - t1} | dict(item.timings))
            yield item

    def answer(self, question: str, k: int | None = None, writer: "str | ChatModel | AnswerWriter | None" = None, *,
               history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        """The final :class:`Answer` of :meth:`answer_stream`."""
        for item in self.answer_stream(question, k, writer, history=history):
            if isinstance(item, Answer):
                return item
        raise AssertionError("answer_stream ends with an Answer")  # pragma: no cover

    def _standalone_query(self, searcher: Searcher, question: str, turns: tuple[Message, ...],
                          writer: AnswerWriter) -> tuple[Query, GeneratorError | None]:
        """The query to search: the question, or for a follow-up the question with its context (a
        writer may rewrite it; its rewrite is kept only when it stays about the conversation:
        similarity to the follow-up followed by the resolved previous question at least the policy's
        ``rewrite_above``). The answer's language is the question's own. Also the LLM's failure, if
        it failed: the answer then does not ask it again (one ``--llm-timeout`` per question)."""
        language = detect_language(question)
        resolved = standalone(question, turns)
        query = searcher.query(resolved.text, language)
        if not resolved.follow_up:
            return query, None
        try:
            rewrite = writer.rewrite(question, turns)
        except GeneratorError as exc:
            return query, exc
        if not rewrite or len(rewrite) > MAX_QUESTION_CHARS:
            return query, None
        candidate = searcher.query(rewrite, language)
        reference = searcher.query(f"{question} ({resolved.context})", language)
        if float(candidate.vector @ reference.vector) < self._policy.rewrite_above:
            return query, None  # the LLM wandered off the conversation
        return candidate, None
