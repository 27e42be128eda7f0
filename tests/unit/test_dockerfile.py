"""The service's Dockerfile: non-root, a HEALTHCHECK that works, ``smoke-gate serve`` on 0.0.0.0.

No Docker daemon is needed: the instructions are read from the file, and the HEALTHCHECK command
itself runs here against a real local HTTP server answering ``/health``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from clients.threaded_server import JsonHandler, serving

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    pairs = instructions()
    start = max(i for i, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    return pairs[start:]


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD."""
    value = json.loads(arguments)
    assert isinstance(value, list), arguments
    return [str(item) for item in value]


def test_the_image_is_python_311_slim() -> None:
    assert final_stage()[0] == ("FROM", "python:3.11-slim")


def test_the_service_runs_as_a_non_root_user() -> None:
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "no USER in the final stage: the service would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_command_serves_on_every_interface() -> None:
    stage = final_stage()
    assert not [k for k, _ in stage if k == "ENTRYPOINT"]
    [command] = [arguments for keyword, arguments in stage if keyword == "CMD"]
    assert exec_form(command) == ["smoke-gate", "serve", "--host", "0.0.0.0"]


def test_the_exposed_port_is_the_services_port() -> None:
    stage = final_stage()
    exposed = [arguments for keyword, arguments in stage if keyword == "EXPOSE"]
    env = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    assert exposed == ["8080"]
    assert "SMOKE_SERVER_PORT=8080" in env


def test_no_token_is_baked_into_the_image() -> None:
    env = " ".join(arguments for keyword, arguments in instructions() if keyword in {"ENV", "ARG"})
    assert "SMOKE_SERVER_TOKEN" not in env


def test_it_installs_the_server_extra_that_pyproject_defines() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    runs = " ".join(arguments for keyword, arguments in final_stage() if keyword == "RUN")
    match = re.search(r"\.whl\)\[([a-z,]+)\]", runs)
    assert match, runs
    wanted = match.group(1).split(",")
    assert "server" in wanted
    assert set(wanted) <= set(extras)


def test_what_it_copies_exists() -> None:
    for keyword, arguments in instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            *sources, _ = arguments.split()
            assert all((ROOT / source).exists() for source in sources), arguments


def healthcheck() -> list[str]:
    [check] = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert re.search(r"--interval=\S+", options)
    assert re.search(r"--timeout=\S+", options)
    return exec_form(command)


class Health(JsonHandler):
    status = 200

    def do_GET(self) -> None:
        if self.path == "/health":
            self.answer_json(self.status, {"status": "ok" if self.status == 200 else "down"})
        else:
            self.answer_json(404, {"detail": "Not Found"})


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_healthcheck_asks_health_on_the_configured_port(status: int, healthy: bool) -> None:
    command = healthcheck()
    assert command[0] == "python"
    handler = type("HealthHandler", (Health,), {"status": status})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        port = server.server_address[1]
        done = subprocess.run(
            [sys.executable, *command[1:]],
            env={"SMOKE_SERVER_PORT": str(port)},
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert (done.returncode == 0) is healthy, done.stderr


def test_the_healthcheck_fails_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Health) as server:
        port = server.server_address[1]  # bound, then closed: nothing listens there
    done = subprocess.run(
        [sys.executable, *healthcheck()[1:]],
        env={"SMOKE_SERVER_PORT": str(port)},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
