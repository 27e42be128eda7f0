"""Workflows against a real local users API: steps in order, saved values, generated values,
finally steps that always run, and what a failed cleanup leaves on the ledger."""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiohttp import web

from clients.http_server import ScriptedServer, closed_port
from pytest_smoke.checks import ChecksError, load_checks
from pytest_smoke.checks.ledger import Ledger
from pytest_smoke.checks.workflows import (
    Workflow,
    WorkflowRun,
    is_secret_name,
    run_workflow,
    secret_saves,
    workflows_of,
)
from pytest_smoke.clients.http import build_http_client

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    import httpx

    from pytest_smoke.checks import Checks

pytestmark = pytest.mark.asyncio

#: Sign up, log in with a form, read the profile with the new token, delete the user.
SIGNUP = """
[[workflows]]
name = "signup-login-profile"
critical = true

[[workflows.steps]]
name = "sign up"
method = "POST"
path = "/api/users"
body = { user = { username = "{marker}", email = "{email}", password = "{marker}" } }
status = [201]
save = { user_id = "user.id" }
expect = { "user.email" = "{email}" }

[[workflows.steps]]
name = "log in"
method = "POST"
path = "/api/login"
format = "form"
body = { username = "{marker}", password = "{marker}" }
save = { token = "access_token" }

[[workflows.steps]]
name = "profile"
path = "/api/user"
headers = { Authorization = "Bearer {saved.token}" }
expect = { "user.id" = "{saved.user_id}", "user.username" = "{marker}" }

[[workflows.finally]]
name = "delete the user"
method = "DELETE"
path = "/api/users/{saved.user_id}"
headers = { Authorization = "Bearer {saved.token}" }
status = [204, 404]
"""


class UsersApi:
    """Users on a scripted server: sign-up, form login, the current user, delete by id.

    ``profile_status`` / ``delete_status`` / ``signup_status`` break one route on purpose.
    """

    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.users: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, int] = {}
        self.next_id = 1
        self.profile_status = 200
        self.delete_status = 204
        self.signup_status = 201
        server.route("/api/users", self.sign_up)
        server.route("/api/login", self.log_in)
        server.route("/api/user", self.profile)

    @property
    def requests(self) -> list[str]:
        return [f"{hit.method} {hit.path}" for hit in self.server.hits]

    async def sign_up(self, request: web.Request) -> web.StreamResponse:
        if self.signup_status != 201:
            return web.json_response({"error": "sign-up is down"}, status=self.signup_status)
        user = (await request.json())["user"]
        number, self.next_id = self.next_id, self.next_id + 1
        self.users[number] = {"id": number, **user}
        self.server.route(f"/api/users/{number}", self.delete)
        shown = {"id": number, "username": user["username"], "email": user["email"]}
        return web.json_response({"user": shown}, status=201)

    async def log_in(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        for number, user in self.users.items():
            if (user["username"], user["password"]) == (form["username"], form["password"]):
                token = f"tok-{secrets.token_hex(8)}"
                self.tokens[token] = number
                return web.json_response({"access_token": token})
        return web.json_response({"error": "invalid credentials"}, status=401)

    def _user(self, request: web.Request) -> int | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        number = self.tokens.get(token)
        return number if number in self.users else None

    async def profile(self, request: web.Request) -> web.StreamResponse:
        number = self._user(request)
        if number is None:
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.profile_status != 200:
            return web.json_response({"error": "profile is down"}, status=self.profile_status)
        user = self.users[number]
        return web.json_response({"user": {"id": number, "username": user["username"]}})

    async def delete(self, request: web.Request) -> web.StreamResponse:
        number = int(request.path.rsplit("/", 1)[1])
        if number not in self.users:
            return web.json_response({"error": "no such user"}, status=404)
        if self._user(request) != number:
            return web.json_response({"error": "unauthorized"}, status=401)
        if self.delete_status != 204:
            return web.json_response({"error": "cannot delete"}, status=self.delete_status)
        del self.users[number]
        return web.Response(status=204)


@pytest_asyncio.fixture
async def api() -> AsyncIterator[UsersApi]:
    async with ScriptedServer() as server:
        yield UsersApi(server)


@pytest_asyncio.fixture
async def client(api: UsersApi) -> AsyncIterator[httpx.AsyncClient]:
    options: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0, "retries": 0}
    async with build_http_client(api.server.url, backoff=0.01, **options) as created:
        yield created


def load(tmp_path: Path, text: str, variables: dict[str, str] | None = None) -> Checks:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return load_checks(path, variables or {})


def workflow(tmp_path: Path, text: str = SIGNUP) -> Workflow:
    (only,) = workflows_of(load(tmp_path, text))
    return only


async def run(
    client: httpx.AsyncClient, flow: Workflow, ledger: Ledger, **options: Any
) -> WorkflowRun:
    return await run_workflow(client, flow, ledger=ledger, **options)


# --- the table ---------------------------------------------------------------------------------


async def test_the_table_with_its_defaults(tmp_path: Path) -> None:
    flow = workflow(tmp_path)
    assert (flow.name, flow.critical, flow.writes, flow.needs_auth) == (
        "signup-login-profile",
        True,
        True,
        False,
    )
    assert [step.key for step in (*flow.steps, *flow.cleanup)] == [
        "workflows[0].steps[0]",
        "workflows[0].steps[1]",
        "workflows[0].steps[2]",
        "workflows[0].finally[0]",
    ]
    assert [step.title for step in flow.steps] == ['"sign up"', '"log in"', '"profile"']
    assert flow.steps[1].form
    checks = load(
        tmp_path, '[[workflows]]\nname = "w"\nauth = true\n[[workflows.steps]]\npath = "/x"\n'
    )
    (read_only,) = workflows_of(checks)
    assert (read_only.writes, read_only.needs_auth, read_only.cleanup) == (False, True, ())
    assert read_only.steps[0].title == "GET /x"


# --- runs --------------------------------------------------------------------------------------


async def test_every_step_in_order_then_finally_leaves_nothing(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    ledger = Ledger()
    seen: dict[str, Any] = {}
    result = await run(client, workflow(tmp_path), ledger, on_saved=seen.__setitem__)
    assert result.failure is None, result.failure
    assert api.requests == [
        "POST /api/users",
        "POST /api/login",
        "GET /api/user",
        "DELETE /api/users/1",
    ]
    assert api.users == {}
    assert len(ledger) == 0
    assert re.fullmatch(r"smoke-\d{10}-[0-9a-f]{8}", result.marker)
    assert result.email == f"{result.marker}@example.com"
    sign_up = json.loads(api.server.hits[0].body)["user"]
    assert sign_up == {"username": result.marker, "email": result.email, "password": result.marker}
    assert api.server.hits[1].form() == {"username": result.marker, "password": result.marker}
    assert seen["user_id"] == 1  # saved as the integer it was
    assert seen["token"].startswith("tok-")
    assert [o.status for o in result.outcomes] == [201, 200, 200, 204]


async def test_a_failing_middle_step_still_runs_finally_and_leaves_nothing(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    api.profile_status = 500
    ledger = Ledger()
    result = await run(client, workflow(tmp_path), ledger)
    assert result.failure == (
        f'step 3 "profile": GET {api.server.url}/api/user answered 500, expected 2xx: '
        '{"error": "profile is down"}'
    )
    assert api.requests[-1] == "DELETE /api/users/1"
    assert api.users == {}
    assert len(ledger) == 0


async def test_the_first_failure_stops_the_steps(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = SIGNUP.replace(
        'expect = { "user.email" = "{email}" }', 'expect = { "user.email" = "x" }'
    )
    result = await run(client, workflow(tmp_path, text), Ledger())
    assert result.failure is not None
    assert result.failure.startswith(
        f'step 1 "sign up": POST {api.server.url}/api/users answered 201 with user.email = '
    )
    # no log in, no profile; the id was saved from the failing answer, but the delete needs
    # the token the log in would have saved: that finally step is left out, and says why
    assert api.requests == ["POST /api/users"]
    assert result.saved == {"user_id": 1}
    assert result.left_out == ["workflows[0].finally[0]: nothing saved as {saved.token}"]


async def test_a_failed_finally_step_is_left_behind(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    api.delete_status = 500
    ledger = Ledger()
    result = await run(client, workflow(tmp_path), ledger)
    assert result.failure is None
    assert ledger.left_behind() == [f"{api.server.url}/api/users/1 (DELETE -> 500)"]


async def test_a_finally_step_needing_a_value_never_saved_is_left_out(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    api.signup_status = 503
    ledger = Ledger()
    result = await run(client, workflow(tmp_path), ledger)
    assert result.failure is not None
    assert result.failure.startswith('step 1 "sign up": POST ')
    assert "answered 503, expected 201" in result.failure
    assert api.requests == ["POST /api/users"]  # nothing was made: nothing to delete
    assert result.left_out == [
        "workflows[0].finally[0]: nothing saved as {saved.token}, {saved.user_id}"
    ]
    assert len(ledger) == 0


async def test_a_finally_step_without_an_answer_is_left_behind(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    gone = f"http://127.0.0.1:{closed_port()}"
    text = (
        '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/nowhere"\nstatus = [404]\n'
        f'[[workflows.finally]]\nmethod = "DELETE"\npath = "{gone}/api/things/{{marker}}"\n'
    )
    ledger = Ledger()
    result = await run(client, workflow(tmp_path, text), ledger)
    assert result.failure is None
    assert ledger.left_behind() == [
        f"{gone}/api/things/{result.marker} (DELETE -> connection refused)"
    ]


async def test_every_finally_step_runs_even_after_one_fails(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = (
        '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/api/missing"\n'
        '[[workflows.finally]]\nmethod = "POST"\npath = "/api/first"\n'
        '[[workflows.finally]]\nmethod = "POST"\npath = "/api/second"\nstatus = [404]\n'
    )
    ledger = Ledger()
    result = await run(client, workflow(tmp_path, text), ledger)
    assert result.failure is not None
    assert result.failure.startswith(f"step 1 GET /api/missing: GET {api.server.url}/api/missing")
    assert api.requests == ["GET /api/missing", "POST /api/first", "POST /api/second"]
    assert ledger.left_behind() == [f"{api.server.url}/api/first (POST -> 404)"]


async def test_the_auth_headers_go_with_steps_that_ask(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = (
        '[[workflows]]\nname = "w"\nauth = true\n'
        '[[workflows.steps]]\npath = "/api/a"\nstatus = [404]\n'
        '[[workflows.steps]]\npath = "/api/b"\nstatus = [404]\nauth = false\n'
    )
    headers = {"Authorization": "Bearer suite"}
    await run(client, workflow(tmp_path, text), Ledger(), auth_headers=headers)
    first, second = api.server.hits
    assert first.headers.get("Authorization") == "Bearer suite"
    assert "Authorization" not in second.headers


async def test_a_saved_value_alone_in_a_string_keeps_its_type(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        return web.json_response(await request.json())

    api.server.route("/api/echo", echo)

    async def count(request: web.Request) -> web.StreamResponse:
        return web.json_response({"n": 3, "ok": True, "ratio": 0.5})

    api.server.route("/api/count", count)
    text = (
        '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/api/count"\n'
        'save = { n = "n", ok = "ok", ratio = "ratio" }\n'
        '[[workflows.steps]]\nmethod = "POST"\npath = "/api/echo"\n'
        'body = { n = "{saved.n}", text = "n={saved.n}", all = ["{saved.ok}", "{saved.ratio}"] }\n'
        'expect = { "n" = "{saved.n}", "text" = "n=3", "all" = [true, 0.5] }\n'
    )
    result = await run(client, workflow(tmp_path, text), Ledger())
    assert result.failure is None, result.failure
    assert json.loads(api.server.hits[-1].body) == {"n": 3, "text": "n=3", "all": [True, 0.5]}


async def test_a_value_missing_from_the_answer_fails_the_step_that_saves_it(
    api: UsersApi, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    text = SIGNUP.replace('save = { user_id = "user.id" }', 'save = { user_id = "user.uuid" }')
    text = text.replace("{saved.user_id}", "{marker}")
    result = await run(client, workflow(tmp_path, text), Ledger())
    assert result.failure is not None
    assert "answered 201 without a value to save at save.user_id 'user.uuid'" in result.failure


async def test_secret_names() -> None:
    for name in ("token", "access_token", "api_key", "session_id", "refreshToken", "password"):
        assert is_secret_name(name), name
    for name in ("user_id", "username", "slug", "email"):
        assert not is_secret_name(name), name


# --- a checks file the loader refuses ----------------------------------------------------------

STEP = '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/a"\n'

BAD = [
    pytest.param(
        STEP + 'headers = { Authorization = "Bearer {saved.token}" }\n',
        "workflows[0].steps[0].headers.Authorization: uses {saved.token}, which no earlier step "
        'saves; save it first, e.g. save = { token = "<JMESPath into the answer>" } in a step '
        "before this one",
        id="saved-never",
    ),
    pytest.param(
        '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/a/{saved.id}"\n'
        '[[workflows.steps]]\npath = "/b"\nsave = { id = "id" }\n',
        "workflows[0].steps[0].path: uses {saved.id}, which no earlier step saves",
        id="saved-by-a-later-step",
    ),
    pytest.param(
        STEP + 'body = { id = "{id}" }\n',
        "workflows[0].steps[0].body.id: unknown placeholder {id}; use {marker}, {email} or "
        "{saved.NAME} (or {{id}} for literal braces)",
        id="unknown-placeholder",
    ),
    pytest.param(
        STEP + 'expect = { "who" = "{user.name}" }\n',
        "workflows[0].steps[0].expect.who: unknown placeholder {user.name}",
        id="dotted-but-not-saved",
    ),
    pytest.param(
        STEP + '[[workflows]]\nname = "w"\n[[workflows.steps]]\npath = "/b"\n',
        "workflows[1].name: 'w' is also the name of workflows[0]; each needs a name of its own "
        "(the test id is test_workflow[w])",
        id="duplicate-name",
    ),
    pytest.param(
        STEP + 'save = { user-id = "id" }\n',
        "workflows[0].steps[0].save.user-id: not a name for {saved.NAME}: use letters, digits "
        "and _, starting with a letter",
        id="save-name-not-an-identifier",
    ),
    pytest.param(
        STEP + 'save = { id = "a..b" }\n',
        "workflows[0].steps[0].save.id: not a valid JMESPath expression 'a..b'",
        id="save-bad-jmespath",
    ),
    pytest.param(
        '[[workflows]]\nname = "w"\nsteps = []\n',
        "workflows[0].steps: expected a list of tables ([[workflows.steps]]), got an empty list",
        id="no-steps",
    ),
    pytest.param(
        '[[workflows]]\nname = "w"\n[[workflows.finally]]\npath = "/a"\n',
        "workflows[0]: missing required key steps",
        id="finally-without-steps",
    ),
    pytest.param(
        STEP + 'format = "form"\nbody = { user = { name = "{marker}" } }\n',
        'workflows[0].steps[0].body.user: a form body (format = "form") must be flat',
        id="form-not-flat",
    ),
    pytest.param(
        STEP + "retries = 3\n",
        "workflows[0].steps[0].retries: unknown key",
        id="unknown-key",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
async def test_a_bad_workflow_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ChecksError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(f"checks file {tmp_path / 'checks.toml'}: {message}")
    assert "\n" not in str(caught.value)


async def test_finally_may_use_what_any_step_or_an_earlier_finally_saved(tmp_path: Path) -> None:
    text = (
        '[[workflows]]\nname = "w"\n'
        '[[workflows.steps]]\npath = "/a"\nsave = { a = "a" }\n'
        '[[workflows.steps]]\npath = "/b/{saved.a}"\n'
        '[[workflows.finally]]\npath = "/c/{saved.a}"\nsave = { c = "c" }\n'
        '[[workflows.finally]]\npath = "/d/{saved.c}/{email}/{marker}/{{literal}}"\n'
    )
    assert workflow(tmp_path, text).cleanup[1].placeholders() == {"saved.c", "email", "marker"}


async def test_a_value_saved_from_a_secret_place_is_a_secret_whatever_its_name(
    tmp_path: Path,
) -> None:
    text = (
        '[[workflows]]\nname = "login"\n'
        '[[workflows.steps]]\nmethod = "POST"\npath = "/login"\n'
        'save = { t = "access_token", user_id = "user.id", api_key = "user.key" }\n'
    )
    (workflow,) = workflows_of(load(tmp_path, text))
    assert secret_saves(workflow) == {"t", "api_key"}
