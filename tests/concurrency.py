"""Running the same work in several threads let go together, as several processes or clicks would arrive."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_at_once(count: int, work: Callable[[], T]) -> list[T | str]:
    """`work` in `count` threads let go together; what each returned, or the exception it raised (its repr)."""
    barrier = threading.Barrier(count)
    outcomes: list[T | str] = []

    def one() -> None:
        barrier.wait()
        try:
            outcomes.append(work())
        except Exception as error:
            outcomes.append(repr(error))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
