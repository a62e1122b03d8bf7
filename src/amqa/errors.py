"""amqa's exceptions. The CLI and the UI turn them into one-line messages."""


class AmqaError(Exception):
    """Base class: a problem the user can fix; its message says how."""


class InvalidInputError(AmqaError, ValueError):
    """A bad argument: empty question, k out of range, missing folder..."""


class NoDocumentsError(AmqaError):
    """The documents folder holds nothing amqa can index."""


class IndexMismatchError(AmqaError):
    """The stored index was built with another embedder, settings or format version."""


class MissingDependencyError(AmqaError, ImportError):
    """An optional backend's package is not installed; the message names the install command."""


class GeneratorError(AmqaError):
    """The LLM could not answer (endpoint down, timeout, bad key, missing model, prompt too long)."""
