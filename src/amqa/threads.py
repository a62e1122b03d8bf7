"""numpy's matrix-vector products on one thread while a question is answered.

A question's similarities are small matrix-vector products (a few hundred to 20,000 rows). numpy's
OpenBLAS splits them over its threads, and on busy cores the calling thread then waits for a worker
to be scheduled: measured on the 2 shared cores (load average 5.8), 1,400 rows x 384 took 16 ms
p50 with 2 threads and 0.06 ms with one; 20,000 rows 12 ms and 3.7 to 5 ms. The result is the
same to the bit (each row's product is computed the same way, whichever thread computes it), so
answers do not change. :func:`one_blas_thread` lowers the limit while at least one question is
being answered in the process and puts it back after the last one.

>>> import numpy as np
>>> with one_blas_thread():
...     float((np.ones((3, 2), dtype=np.float32) @ np.ones(2, dtype=np.float32))[0])
2.0
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_lock = threading.Lock()
_depth = 0
_limiter: Any = None
_controller: Any = None


def _blas_controller() -> Any:
    """threadpoolctl's view of the BLAS libraries loaded now (None without threadpoolctl)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
        except ImportError:  # a dependency of amqa; without it the products simply keep their threads
            return None
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block (and in every thread inside such a block), BLAS runs on one thread."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            controller = _blas_controller()
            _limiter = controller.limit(limits=1) if controller is not None and controller.lib_controllers else None
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
