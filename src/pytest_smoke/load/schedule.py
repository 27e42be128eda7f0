"""Which target each request of a burst goes to, and when each is due at a constant rate.

The three strategies of the stress-testing backend this replaces, each honouring the weights
(a target of weight 3 gets three times the requests of one of weight 1):

- ``sequential``: one target at a time, in the file's order: the burst's duration is cut into
  consecutive phases, one per target, each as long as its share of the weights. Each target is
  measured alone, after the one before.
- ``interleaved``: every target all along, spread as evenly as the weights allow (smooth
  weighted round-robin, as nginx balances upstreams): weights 3 and 1 give A A B A, A A B A...
- ``random``: each request's target drawn at random with the weights as probabilities (a
  seeded :class:`random.Random` when a seed is given, for repeatable runs).

:class:`Plan` answers ``target(index, elapsed)``: request number ``index`` (from 0), sent
``elapsed`` seconds into the burst. Only ``sequential`` reads ``elapsed``; at a constant rate
that is the request's due time, so the plan is the same however the server answers.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_smoke.load.spec import Target


def request_count(rate: float, duration_seconds: float) -> int:
    """How many requests a constant ``rate`` sends in ``duration_seconds``: those due before
    the end, ``ceil(rate * duration)`` (500/s for 5 s: 2500, the last due at 4.998 s)."""
    return max(1, math.ceil(round(rate * duration_seconds, 9)))


def due_at(index: int, rate: float) -> float:
    """Seconds after the burst's start at which request ``index`` is due: ``index / rate``."""
    return index / rate


def interleaved_cycle(weights: Sequence[int]) -> list[int]:
    """One period of smooth weighted round-robin: ``sum(weights)`` indexes into ``weights``,
    each ``i`` appearing ``weights[i]`` times, as evenly spread as the weights allow."""
    current = [0] * len(weights)
    total = sum(weights)
    cycle: list[int] = []
    for _ in range(total):
        for i, weight in enumerate(weights):
            current[i] += weight
        chosen = max(range(len(weights)), key=lambda i: current[i])  # first wins a tie
        current[chosen] -= total
        cycle.append(chosen)
    return cycle


class Plan:
    """The target of each request of a burst of ``duration_seconds``."""

    def __init__(
        self,
        targets: Sequence[Target],
        strategy: str,
        duration_seconds: float,
        *,
        seed: int | None = None,
    ) -> None:
        if not targets:
            raise ValueError("a plan needs at least one target")
        self.targets = tuple(targets)
        self.strategy = strategy
        self.duration_seconds = duration_seconds
        weights = [target.weight for target in self.targets]
        total = sum(weights)
        if strategy == "sequential":
            # where each phase ends, as a fraction of the burst
            self._ends = [running / total for running in itertools.accumulate(weights)]
        elif strategy == "interleaved":
            self._cycle = interleaved_cycle(weights)
        elif strategy == "random":
            self._random = random.Random(seed)
            self._cumulative = list(itertools.accumulate(weights))
            self._indexes = range(len(self.targets))
        else:
            raise ValueError(f"unknown strategy {strategy!r}")

    def index(self, request: int, elapsed: float) -> int:
        """The index into ``targets`` of request number ``request``, sent at ``elapsed``."""
        if self.strategy == "sequential":
            fraction = elapsed / self.duration_seconds
            return min(bisect.bisect_right(self._ends, fraction), len(self.targets) - 1)
        if self.strategy == "interleaved":
            return self._cycle[request % len(self._cycle)]
        (chosen,) = self._random.choices(self._indexes, cum_weights=self._cumulative)
        return chosen

    def target(self, request: int, elapsed: float) -> Target:
        """The target of request number ``request``, sent ``elapsed`` seconds into the burst."""
        return self.targets[self.index(request, elapsed)]
