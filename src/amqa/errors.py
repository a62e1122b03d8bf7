"""amqa's exceptions. The CLI and the UI turn them into one-line messages."""
from __future__ import annotations



class AmqaError(Exception):
    """Base class: a problem the user can fix; its message says how."""


class InvalidInputError(AmqaError, ValueError):
    """A bad argument: empty question, k out of range, missing folder..."""


class NoDocumentsError(AmqaError):
    """The documents folder holds nothing amqa can index."""


class IndexMismatchError(AmqaError):
    """The stored index was built with another embedder, settings or format version."""


class DamagedIndexError(IndexMismatchError):
    """The stored index cannot be read as its manifest describes it (a file missing, truncated, of
    another shape); the message names the rebuild command."""


def rebuild_hint(store: object) -> str:
    """The command that rebuilds the index in ``store``."""
    return f"Rebuild it with: amqa index --store {store} --rebuild"


def damaged_index(store: object, detail: str) -> DamagedIndexError:
    """The error for an index in ``store`` found damaged, saying what is wrong and how to rebuild."""
    return DamagedIndexError(f"the index in {store} is damaged ({detail}). {rebuild_hint(store)}")


class IndexUpdateError(AmqaError):
    """An update of the index failed (disk full, store not writable...); the previous index is unchanged."""


class IndexBusyError(AmqaError):
    """Another process holds the store's lock (it is updating the index) and the caller would not wait."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class MissingDependencyError(AmqaError, ImportError):
    """An optional backend's package is not installed; the message names the install command."""


class GeneratorError(AmqaError):
    """The LLM could not answer (endpoint down, timeout, bad key, missing model, prompt too long)."""


class ServiceBusyError(AmqaError):
    """Every answering slot of a writer's kind stayed busy for as long as the question may wait."""
