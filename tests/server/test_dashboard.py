"""The dashboard (``/ui``) in headless Chromium, over a real service and a real history.

The service is the real command (:func:`running_service`: ``smoke-gate serve`` in a child
process) on a SQLite history holding a scripted day and a half of runs of three profiles
(healthy ``checkout``, ``payments`` gone to ROLLBACK, ``search`` at INVESTIGATE), stored through
:class:`RunStore` itself (``create`` then ``finish`` with a report, so the flaky tests and the
figures are the store's own); each profile is the healthy demo's, so "run now" starts a real run
against it. Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright, no browser
download; the tests skip with a message when either is missing. A screenshot of every page is
kept under ``reports/artifacts/dashboard`` of the checkout (``$SMOKE_ARTIFACTS_DIR/dashboard``
when set), as the HTML report's screenshot is.
"""

from __future__ import annotations

import html
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from e2e.servers import needs_postgres_and_redis

from .conftest import run_async
from .test_app import TOKEN, Service, demo_profiles, running_service, service_environment

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from e2e.test_demo_run import Demo
    from pytest_smoke.server.store import RunStore

httpx = pytest.importorskip("httpx")
pytest.importorskip("jinja2", reason="the dashboard needs the server extra")

CHROMIUM: Final = Path("/usr/bin/chromium")
PROFILES: Final = ("checkout", "payments", "search")
#: Runs per profile in the scripted history, one every 90 minutes (36 hours back).
RUNS_PER_PROFILE: Final = 24
SPACING: Final = timedelta(minutes=90)
LAPTOP: Final = {"width": 1440, "height": 1000}
PHONE: Final = {"width": 390, "height": 844}

# --- a scripted history -------------------------------------------------------------------------

SUITE: Final = (
    ("database", "test_db_connect", True),
    ("database", "test_db_write", True),
    ("database", "test_db_migrations_current", False),
    ("service", "test_api_health", True),
    ("service", "test_api_charge", True),
    ("service", "test_api_search", False),
    ("service", "test_cache_warm", False),
    ("secrets", "test_keyvault_reachable", True),
    ("secrets", "test_secret_rotation_age", False),
    ("metrics", "test_metrics_exposed", False),
    ("metrics", "test_error_rate", True),
    ("http", "test_tls_certificate", True),
)


def _nodeid(category: str, name: str) -> str:
    return f"suite/test_{category}.py::{name}"


@dataclass(frozen=True)
class Scripted:
    """One run of the scripted history: what the store is given."""

    profile: str
    version: str
    verdict: str | None
    created_at: datetime
    failing: dict[str, str] = field(default_factory=dict)  # node id -> cause
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    p95_seconds: float = 0.12
    duration: float = 14.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def document(self) -> dict[str, Any] | None:
        """A report in the JSON report's schema (the parts the dashboard reads)."""
        if self.verdict is None:
            return None
        tests = [
            {
                "nodeid": _nodeid(category, name),
                "outcome": "failed" if _nodeid(category, name) in self.failing else "passed",
                "categories": [category],
                "critical": critical,
                "cause": self.failing.get(_nodeid(category, name)),
                "reruns": 0,
                "duration_seconds": 0.4,
            }
            for category, name, critical in SUITE
        ]
        failed = len(self.failing)
        causes: dict[str, list[str]] = {}
        for nodeid, cause in self.failing.items():
            causes.setdefault(cause, []).append(nodeid)
        categories: dict[str, dict[str, int]] = {}
        for test in tests:
            counts = categories.setdefault(
                test["categories"][0],
                {"total": 0, "passed": 0, "failed": 0, "errors": 0, "skipped": 0},
            )
            counts["total"] += 1
            counts["passed" if test["outcome"] == "passed" else "failed"] += 1
        return {
            "schema_version": 1,
            "verdict": self.verdict,
            "profile": self.profile,
            "reasons": list(self.reasons) or ["every smoke test passed"],
            "notes": [],
            "causes": [{"cause": cause, "tests": tests} for cause, tests in causes.items()],
            "failure_rate": failed / len(SUITE),
            "totals": {
                "total": len(SUITE),
                "passed": len(SUITE) - failed,
                "failed": failed,
                "errors": 0,
                "skipped": 0,
            },
            "categories": categories,
            "flaky": [],
            "warnings": list(self.warnings),
            "duration_seconds": self.duration,
            "requests": {
                "count": 48,
                "p50_seconds": self.p95_seconds / 3,
                "p95_seconds": self.p95_seconds,
                "p99_seconds": self.p95_seconds * 1.4,
                "max_seconds": self.p95_seconds * 1.8,
                "retried": 1,
                "unanswered": 0,
                "slowest": {
                    "method": "POST",
                    "url": "https://payments.example.test/api/charge",
                    "status": 200,
                    "seconds": self.p95_seconds * 1.8,
                },
            },
            "tests": tests,
        }


def scripted_history(now: datetime) -> list[Scripted]:
    """Three profiles over 36 hours, oldest first; each ends in a different state."""
    runs: list[Scripted] = []
    for index in range(RUNS_PER_PROFILE):
        # 7 minutes off the 90-minute grid: no run sits on the 24-hour boundary of the counts
        created = now - SPACING * (RUNS_PER_PROFILE - index) + timedelta(minutes=7)
        last = index == RUNS_PER_PROFILE - 1
        cache = _nodeid("service", "test_cache_warm")
        runs.append(
            Scripted(
                profile="checkout",
                version="2024.6.1" if index < 12 else "2024.6.2",
                verdict="MONITOR" if index == 18 else "PROCEED",
                created_at=created,
                failing={cache: "cache: warm-up took 2.1 s"} if index == 18 else {},
                reasons=("1 non-critical test failed (8 %)",) if index == 18 else (),
                duration=12.0 + (index % 5) * 0.6,
                p95_seconds=0.09 + (index % 4) * 0.01,
            )
        )
        bad = index >= RUNS_PER_PROFILE - 3
        database = "database: connection refused (payments-db:5432)"
        runs.append(
            Scripted(
                profile="payments",
                version="3.7.4" if not bad else "3.8.0",
                verdict="ROLLBACK" if last else ("MONITOR" if bad else "PROCEED"),
                created_at=created + timedelta(minutes=1),
                failing={
                    _nodeid("database", "test_db_connect"): database,
                    _nodeid("database", "test_db_write"): database,
                    _nodeid("service", "test_api_charge"): "HTTP 503 from POST /api/charge",
                }
                if last
                else {},
                reasons=(
                    "critical test failed: suite/test_database.py::test_db_connect",
                    "rollback category database failed",
                )
                if last
                else (),
                warnings=("suite/test_metrics.py::test_error_rate: error rate 0.8 % (limit 1 %)",)
                if bad
                else (),
                p95_seconds=0.15 + (0.35 * (index - 20) if bad else 0.0),
                duration=18.0 + (9.0 if last else 0.0),
            )
        )
        runs.append(
            Scripted(
                profile="search",
                version="1.12.0",
                verdict=None if index == 10 else ("INVESTIGATE" if last else "PROCEED"),
                created_at=created + timedelta(minutes=2),
                reasons=("3 of 12 smoke tests were skipped (25 % > 20 %)",) if last else (),
                warnings=(
                    "suite/test_service.py::test_api_search: index is 41 minutes behind",
                    "suite/test_secrets.py::test_secret_rotation_age: key 84 days old",
                )
                if last
                else (),
                duration=9.5,
                p95_seconds=0.06,
            )
        )
    return runs


async def store_history(url: str, runs: list[Scripted]) -> None:
    """Store ``runs`` through the store itself: created, then finished with their report."""
    from pytest_smoke.server.runs import RunOutcome, RunRequest, RunState
    from pytest_smoke.server.store import RunStore

    store: RunStore
    async with await RunStore.open(url) as store:
        for run in runs:
            request = RunRequest(profile=run.profile, version=run.version)
            trigger = "watch" if run.profile == "payments" else "schedule"
            await store.create(run.run_id, request, created_at=run.created_at, trigger=trigger)
            document = run.document()
            outcome = RunOutcome(
                state=RunState.DONE if document is not None else RunState.CANCELLED,
                exit_code={"PROCEED": 0, "MONITOR": 0, "INVESTIGATE": 10}.get(run.verdict or "", 11)
                if document is not None
                else None,
                document=document,
            )
            await store.finish(run.run_id, outcome, run.created_at + timedelta(seconds=30))


def latest(runs: list[Scripted], profile: str) -> Scripted:
    """The last run of ``profile`` that has a verdict."""
    return [run for run in runs if run.profile == profile and run.verdict][-1]


# --- fixtures -----------------------------------------------------------------------------------


@dataclass
class Dashboard:
    """The service with the scripted history, and what was scripted."""

    service: Service
    runs: list[Scripted]
    artifacts: Path

    @property
    def url(self) -> str:
        return self.service.url

    def shot(self, page: Page, name: str) -> Path:
        """A full-page PNG of ``page`` under the artifacts directory."""
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where the screenshots are kept: ``$SMOKE_ARTIFACTS_DIR/dashboard``, else the checkout's
    ``reports/artifacts/dashboard`` (ignored by git, like the HTML report's screenshot)."""
    base = os.environ.get("SMOKE_ARTIFACTS_DIR")
    directory = (
        Path(base) if base else Path(__file__).resolve().parents[2] / "reports" / "artifacts"
    )
    directory /= "dashboard"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def dashboard(
    tmp_path_factory: pytest.TempPathFactory, healthy_demo: Demo, artifacts: Path
) -> Iterator[Dashboard]:
    """``smoke-gate serve`` over the scripted history; each profile is the healthy demo."""
    directory = tmp_path_factory.mktemp("dashboard")
    profiles_dir = demo_profiles(directory / "profiles", dict.fromkeys(PROFILES, healthy_demo))
    data_dir = directory / "data"
    runs = scripted_history(datetime.now(UTC))
    url = f"sqlite+aiosqlite:///{data_dir / 'history.sqlite3'}"
    run_async(lambda: store_history(url, runs))
    with running_service(directory, profiles_dir, data_dir=data_dir) as service:
        yield Dashboard(service=service, runs=runs, artifacts=artifacts)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium under Playwright, for the module."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Playwright for Python (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def signed_in_page(browser: Browser, dashboard: Dashboard, viewport: dict[str, int]) -> Page:
    """A new page of its own context, signed in through the login form."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{dashboard.url}/ui")
    assert page.url.startswith(f"{dashboard.url}/ui/login"), page.url
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{dashboard.url}/ui")
    return page


@pytest.fixture
def page(browser: Browser, dashboard: Dashboard) -> Iterator[Page]:
    """A signed-in laptop-sized page."""
    page = signed_in_page(browser, dashboard, LAPTOP)
    try:
        yield page
    finally:
        page.context.close()


# --- pages in the browser -----------------------------------------------------------------------


@needs_postgres_and_redis
def test_overview_shows_each_profile_verdict_and_counts(page: Page, dashboard: Dashboard) -> None:
    expected = {profile: latest(dashboard.runs, profile).verdict for profile in PROFILES}
    for profile, verdict in expected.items():
        card = page.locator(f"article.card[data-profile={profile}]")
        assert card.get_attribute("data-verdict") == verdict
        assert verdict in card.locator(".verdict-big").inner_text()
        assert card.locator("svg.spark").count() == 1
        assert card.locator("svg.strip rect").count() == sum(
            1 for run in dashboard.runs if run.profile == profile and run.verdict
        )
    # worst first: the ROLLBACK card, then INVESTIGATE, then the healthy one
    order = page.locator("article.card").evaluate_all("cards => cards.map(c => c.dataset.profile)")
    assert order == ["payments", "search", "checkout"]
    day_ago = datetime.now(UTC) - timedelta(hours=24)
    for verdict in ("PROCEED", "MONITOR", "INVESTIGATE", "ROLLBACK"):
        count = sum(
            1 for run in dashboard.runs if run.verdict == verdict and run.created_at >= day_ago
        )
        shown = page.locator(f".summary li[data-verdict={verdict}] strong").inner_text()
        assert int(shown) == count, verdict
    dashboard.shot(page, "overview")
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.locator("article.card").count() == 3
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the overview scrolls sideways on a phone ({width} px)"
    dashboard.shot(page, "overview-phone")


@needs_postgres_and_redis
def test_profile_page_draws_the_trends(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/ui/profiles/payments?range=7d")
    finished = [run for run in dashboard.runs if run.profile == "payments" and run.verdict]
    assert page.locator(".profile-head").get_attribute("data-verdict") == "ROLLBACK"
    for chart in ("pass-rate", "duration", "p95"):
        svg = page.locator(f"figure[data-chart={chart}] svg.chart")
        assert svg.get_attribute("data-points") == str(len(finished)), chart
        assert svg.locator("circle.dot").count() == len(finished)
    assert page.locator("figure[data-chart=pass-rate] circle.v-rollback").count() == 1
    assert page.locator("table.runs tbody tr").count() == 15
    dashboard.shot(page, "profile-payments")

    page.goto(f"{dashboard.url}/ui/profiles/checkout?range=24h")
    flaky = page.locator(".flaky-panel .flaky-list li").all_inner_texts()
    assert any("test_cache_warm" in line for line in flaky), flaky
    dashboard.shot(page, "profile-checkout-24h")


@needs_postgres_and_redis
def test_history_filters_and_pages(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/ui/runs")
    total = len(dashboard.runs)
    assert page.locator(".result-line").get_attribute("data-total") == str(total)
    assert page.locator("table.runs tbody tr").count() == 50
    dashboard.shot(page, "runs")
    page.click("a[rel=next]")
    assert page.locator("table.runs tbody tr").count() == total - 50

    page.goto(f"{dashboard.url}/ui/runs")
    page.select_option("select[name=verdict]", "MONITOR")
    page.select_option("select[name=profile]", "payments")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r".*verdict=MONITOR.*"))
    rows = page.locator("table.runs tbody tr")
    monitored = [r for r in dashboard.runs if r.profile == "payments" and r.verdict == "MONITOR"]
    assert rows.count() == len(monitored)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.verdict)")) == {"MONITOR"}
    dashboard.shot(page, "runs-filtered")

    since = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{dashboard.url}/ui/runs?since={since}")
    recent = sum(
        1 for run in dashboard.runs if run.created_at >= datetime.fromisoformat(since + "+00:00")
    )
    assert page.locator(".result-line").get_attribute("data-total") == str(recent)

    page.goto(f"{dashboard.url}/ui/runs?since=yesterday")
    assert "since: not a time" in page.locator(".error").inner_text()


@needs_postgres_and_redis
def test_run_page_shows_what_went_wrong(page: Page, dashboard: Dashboard) -> None:
    run = latest(dashboard.runs, "payments")
    page.goto(f"{dashboard.url}/ui/runs/{run.run_id}")
    head = page.locator(".run-head")
    assert head.get_attribute("data-verdict") == "ROLLBACK"
    assert page.locator(".failing h2 .badge").get_attribute("data-count") == "3"
    failing = page.locator(".failing").inner_text()
    assert "suite/test_database.py::test_db_connect" in failing
    causes = page.locator(".causes").inner_text()
    assert "database: connection refused (payments-db:5432)" in causes
    assert "HTTP 503 from POST /api/charge" in causes
    assert "rollback category database failed" in page.locator(".reasons").inner_text()
    percentiles = page.locator(".requests").inner_text()
    p95_ms = run.p95_seconds * 1000
    assert f"{p95_ms / 1000:.2f} s" in percentiles or f"{p95_ms:.0f} ms" in percentiles
    assert "p50" in percentiles
    assert "p99" in percentiles
    assert page.locator(".requests svg.bars rect.bar-fill").count() == 4
    assert "error rate 0.8 %" in page.locator(".warnings").inner_text()
    dashboard.shot(page, "run-rollback")

    monitor = next(r for r in dashboard.runs if r.profile == "checkout" and r.verdict == "MONITOR")
    page.goto(f"{dashboard.url}/ui/runs/{monitor.run_id}")
    assert "test_cache_warm" in page.locator(".flaky-panel").inner_text()
    page.set_viewport_size(PHONE)
    page.goto(f"{dashboard.url}/ui/runs/{run.run_id}")
    dashboard.shot(page, "run-rollback-phone")


@needs_postgres_and_redis
def test_run_now_starts_a_run(page: Page, dashboard: Dashboard) -> None:
    with dashboard.service.client() as client:
        before = client.get("/runs", params={"profile": "checkout", "limit": 1}).json()["total"]
    card = page.locator("article.card[data-profile=checkout]")
    card.locator("input[name=quick]").check()
    card.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/ui/runs/[0-9a-f]{32}$"))
    run_id = page.url.rsplit("/", 1)[1]
    with dashboard.service.client() as client:
        listed = client.get("/runs", params={"profile": "checkout", "limit": 1}).json()
        assert listed["total"] == before + 1
        assert listed["runs"][0]["id"] == run_id
        assert listed["runs"][0]["trigger"] == "dashboard"
        assert listed["runs"][0]["request"]["quick"] is True
    # the page reloads itself while the run goes on, then shows the verdict
    page.locator(".run-head[data-state=done]").wait_for(timeout=300_000)
    assert page.locator(".run-head").get_attribute("data-verdict") in ("PROCEED", "MONITOR")
    dashboard.shot(page, "run-now-done")


# --- sign-in and CSRF over plain HTTP -----------------------------------------------------------


def _csrf(client: httpx.Client, path: str = "/ui/login") -> str:
    answer = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert found, answer.text[:500]
    return found[1]


@needs_postgres_and_redis
def test_pages_need_the_token_and_forms_the_csrf_token(dashboard: Dashboard) -> None:
    with httpx.Client(base_url=dashboard.url, follow_redirects=False, timeout=30) as client:
        for path in (
            "/ui",
            "/ui/runs",
            "/ui/profiles/payments",
            f"/ui/runs/{dashboard.runs[0].run_id}",
        ):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/ui/login?next=")
        answer = client.get("/ui/login")
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert "https://" not in answer.text
        assert "http://" not in answer.text
        csrf = _csrf(client)
        assert client.post("/ui/login", data={"token": TOKEN}).status_code == 403
        wrong = client.post("/ui/login", data={"token": "nope", "csrf": csrf})
        assert wrong.status_code == 401
        assert "nope" not in wrong.text
        assert TOKEN not in wrong.text
        outside = client.post(
            "/ui/login", data={"token": TOKEN, "csrf": csrf, "next": "//evil.example/x"}
        )
        assert outside.status_code == 303
        assert outside.headers["location"] == "/ui"
        cookie = next(
            value
            for name, value in outside.headers.multi_items()
            if name == "set-cookie" and value.startswith("smoke_gate_token=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/ui" in cookie
        assert client.get("/ui").status_code == 200

        before = client.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"}).json()["total"]
        forged = client.post("/ui/profiles/checkout/run", data={"csrf": "x" * 43})
        assert forged.status_code == 403
        assert client.post("/ui/profiles/checkout/run", data={}).status_code == 403
        unknown = client.post("/ui/profiles/nope/run", data={"csrf": csrf})
        assert unknown.status_code == 422
        assert "unknown profile 'nope'" in html.unescape(unknown.text)
        after = client.get("/runs", headers={"Authorization": f"Bearer {TOKEN}"}).json()["total"]
        assert after == before
        assert client.get("/ui/runs/nope").status_code == 404
        assert client.get("/ui/profiles/nope").status_code == 404
        assert client.get("/ui/static/../app.py").status_code == 404
        # a mistyped address is a page with one line, not the API's JSON
        for path, status, line in (
            ("/ui/runs?page=abc", 422, "query.page: "),
            ("/ui/no-such-page", 404, "Not Found"),
        ):
            mistyped = client.get(path)
            assert mistyped.status_code == status, path
            assert mistyped.headers["content-type"].startswith("text/html"), path
            assert line in html.unescape(mistyped.text), path
        assert client.get("/runs?limit=abc").headers["content-type"] == "application/json"
        style = client.get(re.search(r'href="(/ui/static/dashboard.css\?v=\w+)"', answer.text)[1])
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")

        signed_out = client.post("/ui/logout", data={"csrf": csrf})
        assert signed_out.status_code == 303
        assert client.get("/ui").status_code == 303


def test_open_reads_show_pages_but_running_needs_the_token(tmp_path: Path) -> None:
    profiles_dir = tmp_path / "profiles"
    profiles_dir.mkdir()
    (profiles_dir / ".env.checkout").write_text("SMOKE_BASE_URL=http://127.0.0.1:9\n")
    runs = [run for run in scripted_history(datetime.now(UTC)) if run.profile == "search"]
    data_dir = tmp_path / "data"
    run_async(lambda: store_history(f"sqlite+aiosqlite:///{data_dir / 'history.sqlite3'}", runs))
    environment = service_environment(tmp_path, read_auth="open")
    with (
        running_service(
            tmp_path, profiles_dir, environment=environment, data_dir=data_dir
        ) as service,
        httpx.Client(base_url=service.url, follow_redirects=False, timeout=30) as client,
    ):
        overview = client.get("/ui")
        assert overview.status_code == 200
        assert 'data-profile="search" data-verdict="INVESTIGATE"' in overview.text
        assert 'data-profile="checkout" data-verdict=""' in overview.text  # a file, no runs
        csrf = _csrf(client, "/ui")
        refused = client.post("/ui/profiles/checkout/run", data={"csrf": csrf})
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/ui/login")
        cancelled = next(run for run in runs if run.verdict is None)
        page = client.get(f"/ui/runs/{cancelled.run_id}")
        assert page.status_code == 200
        assert "CANCELLED" in page.text


# --- the charts on their own --------------------------------------------------------------------


def test_charts_scale_break_and_colour() -> None:
    from pytest_smoke.server.dashboard.charts import Point, line_chart, nice_ceiling, verdict_strip

    assert [nice_ceiling(v) for v in (0.7, 1, 3, 7.5, 42, 180, 0)] == [1, 1, 5, 10, 50, 200, 1]
    start = datetime(2024, 6, 1, 12, tzinfo=UTC)
    points = [
        Point(start, 10.0, "PROCEED", "a"),
        Point(start + timedelta(minutes=5), None, None, "b"),
        Point(start + timedelta(minutes=10), 40.0, "ROLLBACK", "c<script>"),
    ]
    svg = str(line_chart(points, label="p95", unit="ms"))
    assert svg.count("<circle") == 2
    assert "<polyline" not in svg
    assert 'class="dot v-rollback"' in svg
    assert "c&lt;script&gt;" in svg
    assert ">50 ms<" in svg  # the top: a round number over 40
    assert "no p95 yet" in str(line_chart(points[1:2], label="p95", unit="ms"))
    assert str(verdict_strip(points)).count("<rect") == 3
