"""Admission control: how many answers are written at once, one pool of slots per kind of writer.

Every front end answers through the same :class:`Admission`, so that the web UI and an HTTP API
share the CPU and the LLM's capacity. Extractive answers use the CPU (2 cores here: more than 4 at
once only queue inside the process); LLM answers mostly wait on the server, each cut off at the
LLM's deadline, so a few more may stream at once without costing extractive users anything. In one
pool of 4, 4 endless LLM streams held every slot and a 5th user's extractive question waited 120 s
(issue 14): hence two pools.

>>> admission = Admission(AdmissionLimits(extractive=1, llm=1, wait=0.01))
>>> with admission.slot(WriterKind.EXTRACTIVE):
...     try:
...         with admission.slot(WriterKind.EXTRACTIVE):
...             pass
...     except ServiceBusyError as exc:
...         print(exc)
all 1 extractive answer slots are busy: ask again in a moment
>>> admission.busy(WriterKind.EXTRACTIVE)
0
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from amqa.errors import InvalidInputError, ServiceBusyError
from amqa.settings import check_fields
from amqa.writers.protocol import WriterKind


@dataclass(frozen=True, kw_only=True)
class AdmissionLimits:
    """Answers written at once per kind of writer, and how long (seconds; ``math.inf``: as long as it
    takes) a question waits for a slot."""

    extractive: int = 4
    llm: int = 6
    wait: float = 30.0

    def __post_init__(self) -> None:
        check_fields(self, ("extractive", "llm"), integer=True)
        check_wait(self.wait)

    def of(self, kind: WriterKind) -> int:
        return self.extractive if kind is WriterKind.EXTRACTIVE else self.llm


def check_wait(wait: object) -> float:
    """``wait`` when it is a number of seconds >= 0 (``math.inf`` included), else an error quoting it."""
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or math.isnan(wait) or wait < 0:
        raise InvalidInputError(f"the wait for an answering slot must be a number of seconds >= 0 (math.inf: no "
                                f"limit). Currently, it is {wait!r}")
    return float(wait)


class Admission:
    """Answering slots (thread-safe): share one between the engines and front ends of a process
    (``Engine(admission=...)``) so that they share its capacity."""

    def __init__(self, limits: AdmissionLimits | None = None) -> None:
        self.limits = limits or AdmissionLimits()
        self._slots = {kind: threading.BoundedSemaphore(self.limits.of(kind)) for kind in WriterKind}
        self._lock = threading.Lock()
        self._busy = dict.fromkeys(WriterKind, 0)

    @contextmanager
    def slot(self, kind: WriterKind, wait: float | None = None) -> Iterator[None]:
        """Hold one slot of ``kind`` for the block; :class:`ServiceBusyError` when none frees up within
        ``wait`` seconds (default: the limits'; ``math.inf``: as long as it takes)."""
        limit = self.limits.wait if wait is None else check_wait(wait)
        if not self._slots[kind].acquire(timeout=None if math.isinf(limit) else limit):
            raise ServiceBusyError(f"all {self.limits.of(kind)} {kind.value} answer slots are busy: ask again in a moment")
        with self._lock:
            self._busy[kind] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[kind] -= 1
            self._slots[kind].release()

    def busy(self, kind: WriterKind) -> int:
        """Slots of ``kind`` in use now."""
        return self._busy[kind]
