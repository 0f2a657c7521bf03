"""Combiner: the work of threads that arrive while a call runs is done in one call, and an item
that fails a combined call fails only its own caller."""

from __future__ import annotations

import threading
import time

import pytest

from bot.line.combining import CombinedCallFailed, Combiner


class Store:
    """A stand-in for the database: records each call; the first call can be held open."""

    def __init__(self, *, hold_first: bool = False, refuse: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.first_call_started = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self.refuse = refuse

    def __call__(self, items: list[str]) -> None:
        self.calls.append(list(items))
        self.first_call_started.set()
        assert self.release.wait(10)
        if self.refuse in items:
            raise ValueError(f"cannot store {self.refuse}")


def submit_in_threads(combiner: Combiner[str], items: list[str]) -> tuple[list[threading.Thread], dict[str, object]]:
    outcomes: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            combiner.submit(item)
            outcomes[item] = "stored"
        except BaseException as error:  # noqa: BLE001 (recorded for the assertion)
            outcomes[item] = error

    threads = [threading.Thread(target=submit, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def wait_until_queued(combiner: Combiner[str], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(combiner._queued) < count:
        assert time.monotonic() < deadline, "the threads never queued"
        time.sleep(0.001)


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_a_lone_item_is_stored_at_once_in_a_call_of_its_own():
    store = Store()
    Combiner(store, max_items=8).submit("a")
    assert store.calls == [["a"]]


def submit_during_a_held_call(combiner: Combiner[str], store: Store, items: list[str]) -> dict[str, object]:
    """"a" starts a call that is held open; `items` arrive meanwhile; then the call is let go."""
    first, outcomes = submit_in_threads(combiner, ["a"])
    assert store.first_call_started.wait(10)
    later, more = submit_in_threads(combiner, items)
    wait_until_queued(combiner, len(items))
    store.release.set()
    join(first + later)
    return {**outcomes, **more}


def test_items_that_arrive_while_a_call_runs_are_stored_together_in_the_next_call():
    store = Store(hold_first=True)
    outcomes = submit_during_a_held_call(Combiner(store, max_items=8), store, ["b", "c", "d"])
    assert store.calls[0] == ["a"]
    assert sorted(store.calls[1]) == ["b", "c", "d"] and len(store.calls) == 2
    assert outcomes == {"a": "stored", "b": "stored", "c": "stored", "d": "stored"}


def test_no_call_takes_more_than_the_most_items_allowed():
    store = Store(hold_first=True)
    outcomes = submit_during_a_held_call(Combiner(store, max_items=2), store, ["b", "c", "d", "e", "f"])
    assert max(len(call) for call in store.calls) == 2
    assert sorted(item for call in store.calls for item in call) == ["a", "b", "c", "d", "e", "f"]
    assert set(outcomes.values()) == {"stored"}


def test_an_item_that_fails_a_combined_call_fails_only_its_own_caller():
    store = Store(hold_first=True, refuse="poison")
    outcomes = submit_during_a_held_call(Combiner(store, max_items=8), store, ["b", "poison", "c"])
    assert isinstance(outcomes.pop("poison"), ValueError)
    assert outcomes == {"a": "stored", "b": "stored", "c": "stored"}
    # the combined call failed, then each of its items was stored alone
    assert sorted(store.calls[1]) == ["b", "c", "poison"]
    assert sorted(store.calls[2:]) == [["b"], ["c"], ["poison"]]


def test_when_no_one_item_can_be_at_fault_a_failed_combined_call_fails_every_caller_at_once():
    store = Store(hold_first=True, refuse="b")
    combiner = Combiner(store, max_items=8, one_items_fault=lambda error: "cannot store" not in str(error))
    outcomes = submit_during_a_held_call(combiner, store, ["b", "c"])
    assert outcomes.pop("a") == "stored"
    for outcome in outcomes.values():
        assert isinstance(outcome, CombinedCallFailed) and isinstance(outcome.__cause__, ValueError)
    assert outcomes["b"] is not outcomes["c"]  # each thread raises an exception of its own
    assert len(store.calls) == 2  # nothing was tried again


def test_a_lone_item_that_fails_raises_its_own_error_and_is_not_tried_again():
    store = Store(refuse="poison")
    with pytest.raises(ValueError, match="cannot store poison"):
        Combiner(store, max_items=8).submit("poison")
    assert store.calls == [["poison"]]


class Interrupted(BaseException):
    """As a thread being shut down in the middle of a call."""


def test_waiting_threads_are_not_left_waiting_when_a_call_is_interrupted():
    store = Store(hold_first=True, refuse="b")

    def run(items: list[str]) -> None:
        try:
            store(items)
        except ValueError:
            raise Interrupted() from None

    outcomes = submit_during_a_held_call(Combiner(run, max_items=8), store, ["b", "c"])
    assert outcomes.pop("a") == "stored"
    # the thread that ran the second call got the interruption; the other an error, not a hang
    assert sorted(type(outcome).__name__ for outcome in outcomes.values()) == ["CombinedCallFailed", "Interrupted"]
