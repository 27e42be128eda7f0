"""The load burst's plan: how many requests, when each is due, and which target each goes to."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from pytest_smoke.load.schedule import Plan, due_at, interleaved_cycle, request_count
from pytest_smoke.load.spec import Target

A, B, C = Target("GET", "/a", 3), Target("GET", "/b", 1), Target("POST", "/c", 2)


@pytest.mark.parametrize(
    ("rate", "duration", "count"),
    [
        (500, 5, 2500),
        (10, 2, 20),
        (3, 1, 3),
        (0.5, 1, 1),
        (0.5, 3, 2),
        (100, 0.015, 2),
        (7, 1.0, 7),
    ],
)
def test_a_rate_sends_the_requests_due_before_the_end(
    rate: float, duration: float, count: int
) -> None:
    assert request_count(rate, duration) == count
    assert due_at(count - 1, rate) < duration <= due_at(count, rate) + 1e-9


def test_requests_are_due_at_a_constant_pace() -> None:
    assert [due_at(i, 4) for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("weights", "cycle"),
    [
        ([3, 1], [0, 0, 1, 0]),
        ([1, 1, 1], [0, 1, 2]),
        ([1], [0]),
        ([2, 1, 1], [0, 1, 2, 0]),
        ([5, 1], [0, 0, 0, 1, 0, 0]),
    ],
)
def test_interleaving_spreads_each_target_by_its_weight(
    weights: list[int], cycle: list[int]
) -> None:
    assert interleaved_cycle(weights) == cycle


def test_an_interleaved_cycle_holds_each_target_weight_times() -> None:
    weights = [7, 3, 5, 1]
    cycle = interleaved_cycle(weights)
    assert Counter(cycle) == dict(enumerate(weights))
    # smooth: the heaviest target never waits more than one other target's turn in a row
    heaviest = [i for i, target in enumerate(cycle) if target == 0]
    assert max(b - a for a, b in itertools.pairwise(heaviest)) <= 3


def test_interleaved_plan_repeats_the_cycle() -> None:
    plan = Plan([A, B, C], "interleaved", 2)
    picked = [plan.target(i, 0.0) for i in range(60)]
    assert Counter(picked) == {A: 30, B: 10, C: 20}
    assert picked[:6] == picked[6:12]


def test_sequential_plan_sends_one_target_after_another_by_weight() -> None:
    # 100/s for 2 s: request i is due at i/100; the phases are A 0..1.5 s, B 1.5..2 s
    plan = Plan([A, B], "sequential", 2)
    picked = [plan.target(i, due_at(i, 100)) for i in range(request_count(100, 2))]
    assert picked == [A] * 150 + [B] * 50


def test_sequential_phases_follow_the_file_order_and_the_clock() -> None:
    plan = Plan([B, A, C], "sequential", 6)  # weights 1, 3, 2: B 0-1 s, A 1-4 s, C 4-6 s
    assert [plan.target(0, t).path for t in (0, 0.99, 1.0, 3.99, 4.0, 5.99)] == [
        "/b",
        "/b",
        "/a",
        "/a",
        "/c",
        "/c",
    ]
    assert plan.target(0, 7.5) == C  # a closed loop's last request, after the end: the last


def test_random_plan_draws_by_weight_and_repeats_with_a_seed() -> None:
    first = Plan([A, B, C], "random", 2, seed=7)
    second = Plan([A, B, C], "random", 2, seed=7)
    drawn = [first.target(i, 0.0) for i in range(6000)]
    assert drawn == [second.target(i, 0.0) for i in range(6000)]
    counts = Counter(drawn)
    assert counts[A] == pytest.approx(3000, rel=0.06)
    assert counts[B] == pytest.approx(1000, rel=0.1)
    assert counts[C] == pytest.approx(2000, rel=0.08)
    assert drawn[:12] != [Plan([A, B, C], "random", 2, seed=8).target(i, 0) for i in range(12)]


def test_a_plan_needs_a_known_strategy_and_a_target() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'roundrobin'"):
        Plan([A], "roundrobin", 1)
    with pytest.raises(ValueError, match="at least one target"):
        Plan([], "random", 1)
