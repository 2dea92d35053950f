"""What every live explorer shares: results cached by config, and slow work off the kernel's thread.

A chapter's explorer binds controls to an experiment and a figure. Moving a control
must answer at once, so the pattern is:

- results are looked up in a :class:`ResultCache` keyed by the experiment's frozen
  config: a setting seen before redraws without computing;
- an uncached setting shows a "computing…" state at once and runs in a worker thread
  (:class:`LatestOnly`), reporting progress;
- each control change starts a new *generation*; a worker whose generation is no longer
  the latest stops at its next progress report (the experiment's ``on_step``) and its
  result is never drawn, so stale work is dropped, never queued behind the new value.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ResultCache:
    """``run(config)``, remembered for the ``maxsize`` most recently used configs; safe across threads."""

    def __init__(self, run: Callable[..., Any], *, maxsize: int = 256):
        self.run = run
        self.maxsize = maxsize
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, config: Hashable) -> Any | None:
        """The stored result for ``config``, or ``None`` if it was never computed (or was evicted)."""
        with self._lock:
            if config in self._results:
                self._results.move_to_end(config)
                return self._results[config]
        return None

    def put(self, config: Hashable, result: Any) -> None:
        with self._lock:
            self._results[config] = result
            self._results.move_to_end(config)
            while len(self._results) > self.maxsize:
                self._results.popitem(last=False)

    def __contains__(self, config: Hashable) -> bool:
        with self._lock:
            return config in self._results

    def __call__(self, config: Hashable, **kwargs: Any) -> Any:
        """The cached result, or ``run(config, **kwargs)`` stored and returned."""
        result = self.get(config)
        if result is None:
            result = self.run(config, **kwargs)
            self.put(config, result)
        return result


class Superseded(Exception):
    """Raised inside a worker when a newer control value has made its work stale."""


# Explorers with a worker that may still be running. A daemon thread still inside torch when the
# interpreter exits aborts the process ("terminate called without an active exception"), so at
# exit each explorer's work is made stale, and stops at its next progress report.
_with_workers: weakref.WeakSet[LatestOnly] = weakref.WeakSet()


@atexit.register
def _stop_workers_at_exit() -> None:
    for latest in list(_with_workers):
        latest.start()
        latest.wait(timeout=10)


class LatestOnly:
    """Runs work for the latest control value only; older work stops and is never shown.

    :meth:`start` begins a new generation and returns its number. A worker started with
    :meth:`run_in_background` calls :meth:`check` (through its progress callback) and
    stops with :class:`Superseded` once a newer generation exists; :meth:`show` runs a
    drawing function only if its generation is still the latest, under a lock, so two
    threads never draw at once.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._draw_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def start(self) -> int:
        self.generation += 1
        return self.generation

    def check(self, generation: int) -> None:
        if generation != self.generation:
            raise Superseded

    def show(self, generation: int, draw: Callable[[], None]) -> bool:
        """``draw()`` if ``generation`` is the latest; says whether it drew."""
        with self._draw_lock:
            if generation != self.generation:
                return False
            draw()
            return True

    def run_in_background(self, generation: int, work: Callable[[], None]) -> None:
        """``work()`` in a daemon thread; a :class:`Superseded` raised inside it just ends it."""

        def guarded() -> None:
            try:
                work()
            except Superseded:
                pass

        self._worker = threading.Thread(target=guarded, name=f"explorer-generation-{generation}", daemon=True)
        _with_workers.add(self)
        self._worker.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the latest worker (if any) has finished: for tests, benchmarks and scripts."""
        if self._worker is not None:
            self._worker.join(timeout)
