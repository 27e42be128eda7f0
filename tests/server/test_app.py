"""``smoke-gate serve`` against the healthy demo: every endpoint, end to end.

The service is the real command (``python -m pytest_smoke serve --port 0``), a subprocess with
the environment an e2e run has (tests/e2e/test_demo_run.py's ``base_environment``); its runs
are real pytest subprocesses against a real demo deployment (``launch.py up``); the history is
real SQLite (and PostgreSQL for the restart test). The helpers here (:func:`running_service`,
:func:`demo_profiles`) are shared by the other service tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from e2e.servers import needs_postgres_and_redis
from e2e.test_demo_run import Demo, base_environment

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

httpx_module = pytest.importorskip("httpx")
pytest.importorskip("fastapi", reason="the service needs the server extra")

pytestmark = needs_postgres_and_redis

ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMA: Final = ROOT / "src" / "pytest_smoke" / "reports" / "smoke-gate-report.schema.json"
TOKEN: Final = "test-service-token-3f9a1c0d5e"
#: What uvicorn logs once it listens (inside a JSON line).
LISTENING: Final = re.compile(r"Uvicorn running on http://([\d.]+):(\d+)")
#: Bounds: a service starts in seconds; a quick demo run in well under a minute on 2 busy cores.
START_TIMEOUT: Final = 60.0
RUN_WAIT: Final = 300
TERMINAL: Final = {"done", "timed out", "cancelled", "crashed"}


@dataclass
class Service:
    """A running ``smoke-gate serve``: its URL, token, log file and data directory."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    data_dir: Path
    token: str = TOKEN

    def client(self, *, token: str | None = TOKEN, timeout: float = RUN_WAIT + 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx_module.Client(base_url=self.url, headers=headers, timeout=timeout)

    def log_lines(self) -> list[dict[str, Any]]:
        """The service's log so far, one JSON object a line (every line must be JSON)."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def service_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """An e2e run's environment, plus the token and ``SMOKE_SERVER_<NAME>`` ``settings``."""
    environment = base_environment(tmp_path, {"SMOKE_SERVER_TOKEN": TOKEN})
    environment.update({f"SMOKE_SERVER_{name.upper()}": value for name, value in settings.items()})
    return environment


@contextlib.contextmanager
def running_service(
    directory: Path,
    profiles_dir: Path,
    *,
    environment: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    data_dir: Path | None = None,
) -> Iterator[Service]:
    """``smoke-gate serve --port 0`` on 127.0.0.1, until it listens; SIGTERM (then kill) after."""
    directory.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or directory / "data"
    log = directory / f"service-{time.monotonic_ns()}.log"
    environment = environment or service_environment(directory)
    command = [sys.executable, "-m", "pytest_smoke", "serve", "--port", "0"]
    command += ["--profiles-dir", str(profiles_dir), "--data-dir", str(data_dir), *args]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, stderr=stderr, stdout=subprocess.DEVNULL, env=environment, cwd=directory
        )
    try:
        url = _wait_listening(process, log)
        yield Service(process=process, url=url, log=log, data_dir=data_dir)
    finally:
        stop_service(process)


def _wait_listening(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text())
        if found:
            return f"http://{found[1]}:{found[2]}"
        if process.poll() is not None:
            pytest.fail(f"the service exited ({process.returncode}): {log.read_text()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"the service did not listen within {START_TIMEOUT} s: {log.read_text()[-3000:]}")


def stop_service(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a container runtime stops it; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def demo_profiles(directory: Path, demos: dict[str, Demo]) -> Path:
    """A profiles directory holding each demo's profile as ``.env.NAME``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, demo in demos.items():
        shutil.copyfile(demo.profile, directory / f".env.{name}")
    return directory


def wait_ended(client: httpx.Client, run_id: str, *, timeout: float = RUN_WAIT) -> dict[str, Any]:
    """Poll ``GET /runs/ID`` until the run has ended; the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/runs/{run_id}").json()
        if run["state"] in TERMINAL:
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not end within {timeout} s")


def assert_valid_report(document: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.validate(document, json.loads(SCHEMA.read_text()))


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory, healthy_demo: Demo) -> Path:
    """``.env.demo`` (the healthy demo) and ``.env.broken`` (a profile that does not load)."""
    directory = demo_profiles(tmp_path_factory.mktemp("profiles"), {"demo": healthy_demo})
    (directory / ".env.broken").write_text("SMOKE_TEST_MAX_FAILURE_PERCENT=lots\n")
    return directory


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, profiles_dir: Path) -> Iterator[Service]:
    """One service for the module, on a SQLite history, at most 2 runs at once."""
    with running_service(tmp_path_factory.mktemp("service"), profiles_dir) as running:
        yield running


@pytest.fixture
def client(service: Service) -> Iterator[httpx.Client]:
    """An HTTP client of ``service`` carrying the token."""
    with service.client() as http:
        yield http


@pytest.fixture(scope="module")
def proceeded(service: Service) -> dict[str, Any]:
    """A quick run of the healthy demo through ``POST /runs?wait=``: the 200 answer's run."""
    with service.client() as http:
        answer = http.post(f"/runs?wait={RUN_WAIT}", json={"profile": "demo", "quick": True})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# --- tests --------------------------------------------------------------------------------------


def test_health_needs_no_token(service: Service) -> None:
    with service.client(token=None) as http:
        answer = http.get("/health")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["executor"] == "local"
    assert health["version"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/runs"),
        ("GET", "/runs/nope"),
        ("GET", "/profiles"),
        ("GET", "/metrics"),
        ("POST", "/runs"),
        ("DELETE", "/runs/nope"),
        ("POST", "/run-all"),
        ("POST", "/test/db"),
    ],
)
@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_without_the_token_401(service: Service, method: str, path: str, token: str | None) -> None:
    with service.client(token=token) as http:
        answer = http.request(method, path, json={"profile": "demo"})
    assert answer.status_code == 401, answer.text
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert list(answer.json()) == ["detail"]
    assert "not-the-token" not in answer.text


def test_post_runs_wait_answers_the_finished_run(
    client: httpx.Client, proceeded: dict[str, Any]
) -> None:
    assert proceeded["state"] == "done"
    assert proceeded["verdict"] == "PROCEED"
    assert proceeded["exit_code"] == 0
    assert proceeded["url"] == f"/runs/{proceeded['id']}"
    assert proceeded["request"] == {
        "profile": "demo",
        "quick": True,
        "markers": None,
        "categories": [],
        "read_only": False,
        "version": None,
    }
    assert (proceeded["trigger"], proceeded["flaky_tests"]) == ("api", [])
    report = proceeded["report"]
    assert_valid_report(report)
    assert report["verdict"] == "PROCEED"
    assert proceeded["created_at"] <= proceeded["started_at"] <= proceeded["finished_at"]
    stored = client.get(proceeded["url"])
    assert stored.status_code == 200
    assert stored.json() == proceeded


def test_post_runs_answers_202_then_the_run_ends(client: httpx.Client) -> None:
    answer = client.post(
        "/runs", json={"profile": "demo", "quick": True, "categories": ["service"]}
    )
    assert answer.status_code == 202, answer.text
    submitted = answer.json()
    assert set(submitted) == {"id", "url", "state", "joined"}
    assert submitted["state"] in {"queued", "running"}
    assert submitted["joined"] is False
    run = wait_ended(client, submitted["id"])
    assert run["state"] == "done"
    assert run["verdict"] in {"PROCEED", "MONITOR"}
    assert run["request"]["categories"] == ["service"]
    assert_valid_report(run["report"])


def test_two_concurrent_requests_make_one_run(service: Service, client: httpx.Client) -> None:
    before = client.get("/runs", params={"profile": "demo"}).json()["total"]
    body = {"profile": "demo", "quick": True, "markers": "not workflow"}

    def submit() -> dict[str, Any]:
        with service.client() as http:
            answer = http.post("/runs", json=body)
        assert answer.status_code == 202, answer.text
        return dict(answer.json())

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: submit(), range(2))
    assert first["id"] == second["id"]
    assert sorted([first["joined"], second["joined"]]) == [False, True]
    run = wait_ended(client, first["id"])
    assert run["state"] == "done"
    after = client.get("/runs", params={"profile": "demo"}).json()["total"]
    assert after == before + 1


def test_delete_cancels_a_run(client: httpx.Client) -> None:
    answer = client.post("/runs", json={"profile": "demo", "markers": "not critical"})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["id"]
    cancelled = client.delete(f"/runs/{run_id}")
    assert cancelled.status_code == 200, cancelled.text
    run = cancelled.json()
    assert run["state"] == "cancelled"
    assert run["verdict"] is None
    assert run["report"] is None
    again = client.delete(f"/runs/{run_id}")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]
    assert client.delete("/runs/no-such-run").status_code == 404


@pytest.mark.parametrize(
    ("path", "categories"),
    [
        ("/run-all", []),
        ("/test/db", ["database"]),
        ("/test/apis", ["service"]),
        ("/test/secrets", ["secrets"]),
        ("/test/metrics", ["metrics"]),
    ],
)
def test_document_000_endpoints_answer_the_run(
    client: httpx.Client, path: str, categories: list[str]
) -> None:
    # The profile by query for one, by body for the others: both are accepted.
    if path == "/run-all":
        answer = client.post(path, params={"profile": "demo"})
    else:
        answer = client.post(path, json={"profile": "demo"})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["state"] == "done"
    assert run["request"]["categories"] == categories
    assert run["verdict"] in {"PROCEED", "MONITOR", "INVESTIGATE"}
    assert_valid_report(run["report"])
    if path in ("/run-all", "/test/db"):
        assert run["verdict"] == "PROCEED"


def test_get_runs_filters_and_pages(client: httpx.Client, proceeded: dict[str, Any]) -> None:
    everything = client.get("/runs").json()
    assert everything["total"] >= 1
    assert all("report" not in run for run in everything["runs"])
    first = client.get("/runs", params={"limit": 1}).json()
    assert first["limit"] == 1
    assert len(first["runs"]) == 1
    if first["total"] > 1:
        assert first["next"] is not None
        following = client.get(first["next"]).json()
        assert following["offset"] == 1
        assert following["runs"][0]["id"] != first["runs"][0]["id"]
    proceeding = client.get("/runs", params={"verdict": "PROCEED", "profile": "demo"}).json()
    assert proceeded["id"] in {run["id"] for run in proceeding["runs"]}
    assert all(run["verdict"] == "PROCEED" for run in proceeding["runs"])
    done = client.get("/runs", params={"state": "done"}).json()
    assert all(run["state"] == "done" for run in done["runs"])
    window = {"since": proceeded["created_at"], "until": proceeded["finished_at"]}
    assert proceeded["id"] in {
        run["id"] for run in client.get("/runs", params=window).json()["runs"]
    }
    future = client.get("/runs", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future == {"runs": [], "total": 0, "limit": 50, "offset": 0, "next": None}
    assert client.get("/runs/no-such-run").status_code == 404


@pytest.mark.parametrize(
    ("body", "params", "needle"),
    [
        ({"profile": "nope"}, {}, "nope"),
        ({"profile": "demo", "markers": "critical and ("}, {}, "critical and ("),
        ({"profile": "demo", "categories": ["teleport"]}, {}, "teleport"),
        ({"profile": "demo", "colour": "red"}, {}, "colour"),
        ({"quick": True}, {}, "profile"),
        ({"profile": "demo"}, {"wait": "100000"}, "wait"),
        ({"profile": "demo"}, {"wait": "soon"}, "wait"),
    ],
)
def test_bad_requests_are_one_line_4xx(
    client: httpx.Client, body: dict[str, Any], params: dict[str, str], needle: str
) -> None:
    answer = client.post("/runs", json=body, params=params)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    assert "\n" not in detail
    assert needle in detail


def test_profiles_lists_settings_or_the_error(client: httpx.Client) -> None:
    answer = client.get("/profiles")
    assert answer.status_code == 200
    by_name = {profile["name"]: profile for profile in answer.json()["profiles"]}
    assert set(by_name) == {"demo", "broken"}
    demo = by_name["demo"]
    assert demo["error"] is None
    settings = {row["name"]: row for row in demo["settings"]}
    assert settings["GATEWAY_URL"]["value"].startswith("https://127.0.0.1:")
    assert settings["SMOKE_TEST_PASSWORD"]["value"] == "***"
    assert settings["SMOKE_TEST_DATABASE_URL"]["source"] == "profile .env.demo"
    broken = by_name["broken"]
    assert broken["settings"] is None
    assert "SMOKE_TEST_MAX_FAILURE_PERCENT" in broken["error"]


def test_a_crashing_run_leaves_the_service_running(
    client: httpx.Client, profiles_dir: Path
) -> None:
    answer = client.post(f"/runs?wait={RUN_WAIT}", json={"profile": "broken"})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["state"] in {"crashed", "done"}
    assert run["verdict"] in {"INVESTIGATE", None}
    assert client.get("/health").json()["status"] == "ok"
    after = client.post(f"/runs?wait={RUN_WAIT}", json={"profile": "demo", "quick": True})
    assert after.status_code == 200
    assert after.json()["verdict"] == "PROCEED"


def test_metrics_count_the_finished_runs(client: httpx.Client, proceeded: dict[str, Any]) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    for category, counts in proceeded["report"]["categories"].items():
        if counts["total"]:
            assert re.search(
                rf'smoke_test_total{{category="{category}",profile="demo"}} [1-9]', text
            ), category
    assert 'smoke_gate_verdict{profile="demo",verdict="PROCEED"} 1.0' in text
    assert 'smoke_gate_verdict{profile="demo",verdict="ROLLBACK"} 0.0' in text
    assert re.search(r'smoke_gate_runs_total{profile="demo",state="done"} [1-9]', text)
    assert "smoke_test_duration_seconds_bucket" in text


def test_log_lines_are_json_with_the_run_id(service: Service, proceeded: dict[str, Any]) -> None:
    lines = service.log_lines()
    about_run = [line for line in lines if line.get("run_id") == proceeded["id"]]
    messages = [line["message"] for line in about_run]
    assert "run queued" in messages
    assert "run ended" in messages
    ended = next(line for line in about_run if line["message"] == "run ended")
    assert ended["verdict"] == "PROCEED"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_restart_keeps_the_history(
    request: pytest.FixtureRequest, tmp_path: Path, profiles_dir: Path, backend: str
) -> None:
    settings = {}
    if backend == "postgresql":
        settings["database_url"] = request.getfixturevalue("postgres_url")
    environment = service_environment(tmp_path, **settings)
    with (
        running_service(tmp_path, profiles_dir, environment=environment) as first,
        first.client() as http,
    ):
        ran = http.post(f"/runs?wait={RUN_WAIT}", json={"profile": "demo", "quick": True})
        assert ran.status_code == 200, ran.text
        # A run still going when the service stops: it must not stay "running" forever.
        going = http.post("/runs", json={"profile": "demo"}).json()["id"]
    with (
        running_service(
            tmp_path, profiles_dir, environment=environment, data_dir=first.data_dir
        ) as second,
        second.client() as http,
    ):
        assert http.get(f"/runs/{ran.json()['id']}").json() == ran.json()
        assert http.get("/runs").json()["total"] == 2
        stopped = http.get(f"/runs/{going}").json()
        assert stopped["state"] in {"cancelled", "crashed"}
        metrics = http.get("/metrics").text
        assert 'smoke_gate_verdict{profile="demo",verdict="PROCEED"} 1.0' in metrics


def test_sigterm_stops_the_service_cleanly(tmp_path: Path, profiles_dir: Path) -> None:
    with running_service(tmp_path, profiles_dir) as service:
        status = stop_service(service.process)
    assert status == 0
    assert os.path.exists(service.data_dir / "history.sqlite3")


@contextlib.contextmanager
def running_worker(
    directory: Path, profiles_dir: Path, environment: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``smoke-gate worker`` (one process, one thread) until SIGTERM."""
    log = directory / "worker.log"
    command = [sys.executable, "-m", "pytest_smoke", "worker", "--processes", "1"]
    command += ["--threads", "1", "--profiles-dir", str(profiles_dir)]
    command += ["--data-dir", str(directory / "worker-data")]
    with log.open("wb") as stderr:
        worker = subprocess.Popen(
            command, stderr=stderr, stdout=subprocess.DEVNULL, env=environment, cwd=directory
        )
    try:
        yield worker
    finally:
        stop_service(worker)


def _remove_keys(redis_url: str, namespace: str) -> list[str]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*"))
        if keys:
            client.delete(*keys)
        return [key.decode() for key in keys]
    finally:
        client.close()


def test_queue_mode_with_one_worker(tmp_path: Path, profiles_dir: Path) -> None:
    pytest.importorskip("dramatiq", reason="queue mode needs the worker extra")
    redis_url = "redis://127.0.0.1:6379/0"
    namespace = f"smoke-gate-test-{os.getpid()}-{time.monotonic_ns()}"
    environment = service_environment(tmp_path, queue_url=redis_url, queue_namespace=namespace)
    try:
        with (
            running_worker(tmp_path, profiles_dir, environment),
            running_service(tmp_path, profiles_dir, environment=environment) as service,
            service.client() as http,
        ):
            assert http.get("/health").json()["executor"] == "queue"
            answer = http.post(f"/runs?wait={RUN_WAIT}", json={"profile": "demo", "quick": True})
            assert answer.status_code == 200, answer.text
            run = answer.json()
            assert run["state"] == "done"
            assert run["verdict"] == "PROCEED"
            assert_valid_report(run["report"])
            # the worker wrote the report, not the service
            assert not (service.data_dir / "runs" / run["id"]).exists()
            assert (tmp_path / "worker-data" / "runs" / run["id"] / "smoke-gate.json").exists()
    finally:
        _remove_keys(redis_url, namespace)
