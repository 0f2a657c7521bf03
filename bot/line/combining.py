"""One call for the work of every thread that arrives while an earlier call is running.

A web process answers LINE's webhooks on several threads, and under a burst most of them are
storing events at once. Each store is one statement, and its fixed cost (the round trip, the
statement's start and its commit) was most of it: four bodies stored together cost a third of
four stored apart (README, *Performance*). So a thread that finds a store running queues its
events; when that store ends, one of the queued threads stores them all, and each thread returns
once its own events are committed. Nothing waits on a timer: a lone request goes straight through.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

_QUEUED, _DONE, _FAILED, _ALONE = "queued", "done", "failed", "alone"


class CombinedCallFailed(Exception):
    """The call that held this caller's item failed (its error is the `__cause__`)."""


def _failure(message: str, cause: BaseException | None = None) -> CombinedCallFailed:
    # One exception object per caller: raised in several threads, one object's traceback would
    # gather every thread's frames.
    failure = CombinedCallFailed(message)
    failure.__cause__ = cause
    return failure


@dataclass(eq=False)
class _Entry(Generic[T]):
    item: T
    state: str = _QUEUED
    error: BaseException | None = None


class Combiner(Generic[T]):
    """`submit(item)` returns when `run` has finished for a list holding `item`, or raises. When
    a combined call fails with an error that one item could have caused (`one_items_fault`), each
    of its items is run again alone, by its own thread, so an item that cannot be run fails only
    its own caller, with its own error; any other error (the database is down) fails them all at
    once, each with a `CombinedCallFailed` caused by it, rather than each waiting for it again."""

    def __init__(self, run: Callable[[list[T]], object], *, max_items: int,
                 one_items_fault: Callable[[Exception], bool] = lambda _error: True) -> None:
        self._run, self._max_items, self._one_items_fault = run, max_items, one_items_fault
        self._changed = threading.Condition()
        self._queued: list[_Entry[T]] = []
        self._running = False

    def submit(self, item: T) -> None:
        entry = _Entry(item)
        with self._changed:
            self._queued.append(entry)
            while entry.state == _QUEUED:
                if self._running:
                    self._changed.wait()
                else:
                    self._lead()
        if entry.state == _ALONE:
            self._run([item])
        elif entry.state == _FAILED:
            assert entry.error is not None
            raise entry.error

    def _lead(self) -> None:
        """Run the queued items in one call; holds the lock on entry and exit, not meanwhile."""
        batch, self._queued = self._queued[:self._max_items], self._queued[self._max_items:]
        self._running = True
        self._changed.release()
        try:
            self._run([entry.item for entry in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].state, batch[0].error = _FAILED, error
            elif self._one_items_fault(error):
                for entry in batch:
                    entry.state = _ALONE
            else:
                for entry in batch:
                    entry.state, entry.error = _FAILED, _failure("a combined call failed", error)
        else:
            for entry in batch:
                entry.state = _DONE
        finally:
            for entry in batch:  # interrupted by a BaseException: nobody may wait on for ever
                if entry.state == _QUEUED:
                    entry.state, entry.error = _FAILED, _failure("a combined call was interrupted")
            self._changed.acquire()
            self._running = False
            self._changed.notify_all()
