"""Secrets planted in a profile appear in no response, no log line, no stored row or file.

The profile is the healthy demo's (its database URL carries a password, its login a password)
plus a planted ``SMOKE_TEST_TOKEN``; every endpoint is called, runs pass and fail (a profile
whose API token is refused), a bad request is made; then the service's responses, its whole
log, and every byte under its data directory (the SQLite history and the runs' report files)
are searched for each secret, raw and URL-encoded.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import pytest

from e2e.servers import needs_postgres_and_redis
from e2e.test_demo_run import base_environment, started_demo

from .test_app import RUN_WAIT, Service, demo_profiles, running_service, stop_service

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = needs_postgres_and_redis

PLANTED_TOKEN = f"planted-api-token-{secrets.token_hex(8)}"


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def test_no_secret_in_any_response_log_or_stored_row(tmp_path: Path) -> None:
    with started_demo(tmp_path / "demo", base_environment(tmp_path / "demo")) as demo:
        profiles = demo_profiles(tmp_path / "profiles", {"demo": demo})
        planted = (profiles / ".env.demo").read_text() + f"SMOKE_TEST_TOKEN={PLANTED_TOKEN}\n"
        (profiles / ".env.planted").write_text(planted)
        database_password = urlsplit(demo.setting("SMOKE_TEST_DATABASE_URL")).password
        assert database_password, "the demo's database URL must carry a password to plant"
        secret_values = {database_password, demo.setting("SMOKE_TEST_PASSWORD"), PLANTED_TOKEN}

        bodies: list[str] = []
        with running_service(tmp_path / "service", profiles) as service:
            bodies += _exercise(service)
            status = stop_service(service.process)
        assert status == 0
        log = service.log.read_text()
        stored = b"".join(
            path.read_bytes() for path in service.data_dir.rglob("*") if path.is_file()
        )
        assert b"PROCEED" in stored  # the history really holds the reports

    for secret in secret_values:
        for form in _forms(secret):
            for body in bodies:
                assert form not in body, "a secret in a response"
            assert form not in log, "a secret in the log"
            assert form.encode() not in stored, "a secret in the history or a report file"


def _exercise(service: Service) -> list[str]:
    """Every endpoint, runs that pass and runs that fail; each response's text."""
    bodies = []
    with service.client() as http:
        for profile in ("demo", "planted"):
            answer = http.post(f"/runs?wait={RUN_WAIT}", json={"profile": profile, "quick": True})
            assert answer.status_code == 200, answer.text
            bodies.append(answer.text)
        run_id = answer.json()["id"]
        for method, path in [
            ("GET", f"/runs/{run_id}"),
            ("GET", "/runs"),
            ("GET", "/profiles"),
            ("GET", "/metrics"),
            ("GET", "/health"),
            ("GET", "/openapi.json"),
            ("POST", "/test/db?profile=planted"),
            ("POST", "/flagger/planted"),
        ]:
            body = {"name": "app", "namespace": "ns", "metadata": {}} if "flagger" in path else None
            answer = http.request(method, path, json=body)
            assert answer.status_code < 500, answer.text
            bodies.append(answer.text)
        bad = http.post("/runs", json={"profile": "planted", "markers": f"{PLANTED_TOKEN} and ("})
        assert bad.status_code == 422
        # What the caller sent may be echoed; nothing of the profile's is.
        bodies.append(bad.text.replace(f"{PLANTED_TOKEN} and (", "<sent>"))
    profiles = [p for p in bodies if '"profiles"' in p]
    assert profiles
    assert "***" in profiles[0]
    return bodies


@pytest.mark.parametrize("read_auth", ["open"])
def test_open_reads_still_need_the_token_to_start(tmp_path: Path, read_auth: str) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / ".env.x").write_text("GATEWAY_URL=http://127.0.0.1:9\n")
    with (
        running_service(tmp_path, profiles, args=("--read-auth", read_auth)) as service,
        service.client(token=None) as http,
    ):
        assert http.get("/runs").status_code == 200
        assert http.get("/profiles").status_code == 200
        assert http.get("/metrics").status_code == 200
        assert http.post("/runs", json={"profile": "x"}).status_code == 401
        assert http.post("/run-all", json={"profile": "x"}).status_code == 401
        assert http.delete("/runs/any").status_code == 401
