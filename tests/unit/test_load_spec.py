"""The checks file's ``[load]``: validation (one line per problem), defaults, the bursts a run
makes (read-only profiles keep a safe one), ``{marker}`` in paths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke.checks import ChecksError, load_checks
from pytest_smoke.load.spec import ALL, SAFE, LoadSpec, Target, Thresholds, bursts, load_spec

if TYPE_CHECKING:
    from pathlib import Path

TARGET = '[[load.targets]]\npath = "/api/items"\n'


def load_table(tmp_path: Path, text: str) -> LoadSpec:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return load_spec(load_checks(path, {}).get("load"))


def problem(tmp_path: Path, text: str) -> str:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    with pytest.raises(ChecksError) as caught:
        load_checks(path, {})
    message = str(caught.value)
    assert "\n" not in message
    prefix = f"checks file {path}: "
    assert message.startswith(prefix)
    return message[len(prefix) :]


def test_the_defaults(tmp_path: Path) -> None:
    spec = load_table(tmp_path, "[load]\nduration_seconds = 5\nrate = 50\n" + TARGET)
    assert spec == LoadSpec(
        targets=(Target("GET", "/api/items", 1),),
        duration_seconds=5,
        rate=50,
        strategy="interleaved",
        auth=False,
        timeout_seconds=10,
        thresholds=Thresholds(error_rate_percent=1),
    )
    assert spec.open_loop
    assert not spec.writes


def test_everything_the_file_says(tmp_path: Path) -> None:
    spec = load_table(
        tmp_path,
        "[load]\nduration_seconds = 2.5\nconcurrency = 8\nstrategy = 'random'\nauth = true\n"
        "timeout_seconds = 3\n"
        "[[load.targets]]\nmethod = 'POST'\npath = '/api/search'\nweight = 3\n"
        "[[load.targets]]\npath = 'https://cdn.example.com/app.js'\n"
        "[load.thresholds]\np95_ms = 500\np99_ms = 1000.5\nerror_rate_percent = 0\n",
    )
    assert spec.targets == (
        Target("POST", "/api/search", 3),
        Target("GET", "https://cdn.example.com/app.js", 1),
    )
    assert (spec.rate, spec.concurrency, spec.strategy, spec.auth) == (None, 8, "random", True)
    assert (spec.duration_seconds, spec.timeout_seconds) == (2.5, 3)
    assert spec.thresholds == Thresholds(p95_ms=500, p99_ms=1000.5, error_rate_percent=0)
    assert not spec.open_loop
    assert spec.writes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 50\nconcurrency = 4\n" + TARGET,
            "load: set exactly one of rate (requests per second, a constant arrival rate) and "
            "concurrency (workers, each sending when its last request is answered); both are set",
            id="rate-and-concurrency",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\n" + TARGET,
            "load: set exactly one of rate (requests per second, a constant arrival rate) and "
            "concurrency (workers, each sending when its last request is answered); neither "
            "is set",
            id="neither",
        ),
        pytest.param(
            "[load]\nduration_seconds = 301\nrate = 5\n" + TARGET,
            "load.duration_seconds: expected a number of seconds from 1 to 300, got 301",
            id="too-long",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 0\n" + TARGET,
            "load.rate: expected a number of requests per second above 0, at most 1000, got 0",
            id="rate-zero",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nconcurrency = 1000\n" + TARGET,
            "load.concurrency: expected an integer from 1 to 256, got 1000",
            id="too-many-workers",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\nstrategy = 'interleave'\n" + TARGET,
            'load.strategy: expected one of "sequential", "interleaved", "random", got the '
            'string "interleave"; did you mean interleaved?',
            id="strategy-typo",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\n",
            "load: missing required key targets",
            id="no-targets",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\n" + TARGET + "weight = 0\n",
            "load.targets[0].weight: expected an integer from 1 to 100, got 0",
            id="weight-zero",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\n[[load.targets]]\npath = '/x/{id}'\n",
            "load.targets[0].path: unknown placeholder {id}; use {marker} (or {{id}} for "
            "literal braces)",
            id="unknown-placeholder",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\n" + TARGET + "[load.thresholds]\np95 = 5\n",
            "load.thresholds.p95: unknown key; did you mean p95_ms?",
            id="unknown-threshold",
        ),
        pytest.param(
            "[load]\nduration_seconds = 5\nrate = 5\n"
            + TARGET
            + "[load.thresholds]\nerror_rate_percent = 120\n",
            "load.thresholds.error_rate_percent: expected a percentage from 0 to 100, got 120",
            id="error-rate-over-100",
        ),
    ],
)
def test_a_bad_load_table_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    assert problem(tmp_path, text) == expected


SAFE_TARGET = Target("GET", "/api/items", 3)
UNSAFE_TARGET = Target("POST", "/api/search", 1)


def spec_of(*targets: Target) -> LoadSpec:
    return LoadSpec(targets=targets, duration_seconds=2, rate=10)


def test_a_read_only_burst_is_one_that_never_writes() -> None:
    reads = spec_of(SAFE_TARGET)
    assert bursts(reads, read_only=False) == [(ALL, reads)]
    assert bursts(reads, read_only=True) == [(ALL, reads)]


def test_a_mixed_burst_writes_and_a_read_only_run_gets_its_safe_part() -> None:
    mixed = spec_of(SAFE_TARGET, UNSAFE_TARGET)
    assert bursts(mixed, read_only=False) == [(ALL, mixed)]
    (all_, full), (safe, part) = bursts(mixed, read_only=True)
    assert (all_, full, safe) == (ALL, mixed, SAFE)
    assert full.writes
    assert part == spec_of(SAFE_TARGET)
    assert not part.writes


def test_a_burst_of_unsafe_targets_alone_has_no_safe_part() -> None:
    writes = spec_of(UNSAFE_TARGET)
    assert bursts(writes, read_only=True) == [(ALL, writes)]


def test_the_marker_goes_into_every_path_once_per_burst() -> None:
    spec = spec_of(Target("GET", "/api/items?name={marker}"), Target("GET", "/{{literal}}"))
    filled = spec.with_marker("smoke-1-ab")
    assert [t.path for t in filled.targets] == ["/api/items?name=smoke-1-ab", "/{literal}"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": 10, "concurrency": 2}, "exactly one of rate and concurrency"),
        ({}, "exactly one of rate and concurrency"),
        ({"rate": -1}, "rate must be above 0"),
        ({"concurrency": 0}, "concurrency must be from 1 to 256"),
        ({"rate": 1, "strategy": "zigzag"}, "strategy must be one of"),
    ],
)
def test_a_spec_refuses_what_the_schema_refuses(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadSpec(targets=(SAFE_TARGET,), duration_seconds=1, **options)  # type: ignore[arg-type]
