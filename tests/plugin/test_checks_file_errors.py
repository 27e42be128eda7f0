"""A bad checks file stops a gated run with exit 4 and one line naming the key and the fix."""

from __future__ import annotations

import pytest

CRUD = '[crud]\ncollection = "/api/items"\ncreate = { name = "smoke-{marker}" }\n'

#: (checks file, the one line expected after "ERROR: smoke: checks file <its path>: ")
CASES = [
    pytest.param(
        '[servce]\nhealth = ["/health"]\n',
        "servce: unknown section; did you mean service?",
        id="unknown-section",
    ),
    pytest.param(
        '[service]\nhelth = ["/health"]\n',
        "service.helth: unknown key; did you mean health?",
        id="misspelt-key",
    ),
    pytest.param(
        '[service]\nhealth = "/health"\n',
        'service.health: expected a list of paths, got the string "/health"; '
        'e.g. health = ["/health"]',
        id="string-where-a-list-belongs",
    ),
    pytest.param(
        '[errors]\nnot_found = "/api/items/0"\nnot_found_status = "404"\n',
        'errors.not_found_status: expected a list of HTTP statuses, got the string "404"; '
        "e.g. not_found_status = [200]",
        id="status-as-string",
    ),
    pytest.param(
        '[auth]\nprotected = "/api/items"\naccepted = [200, 999]\n',
        "auth.accepted[1]: expected an HTTP status from 100 to 599, got 999",
        id="status-out-of-range",
    ),
    pytest.param(
        CRUD + '[crud.list]\nitems = "items"\npagination = "offset"\n',
        'crud.list.pagination: expected one of "limit_offset", "skip_limit", "page_size", '
        '"none", got the string "offset"; did you mean limit_offset?',
        id="bad-pagination-style",
    ),
    pytest.param(
        '[auth.login]\nurl = "/login"\nformat = "xml"\n',
        'auth.login.format: expected one of "json", "form", got the string "xml"',
        id="bad-login-format",
    ),
    pytest.param(
        '[crud]\ncreate = { name = "smoke-{marker}" }\n',
        "crud: missing required key collection",
        id="crud-without-collection",
    ),
    pytest.param(
        CRUD + 'item = "/api/items/by-name"\n',
        'crud.item: must hold {id}, e.g. "/api/items/{id}"',
        id="item-without-id",
    ),
    pytest.param(
        CRUD + 'item = "/api/items/{slug}"\n',
        "crud.item: unknown placeholder {slug}; use {id} or {marker} "
        "(or {{slug}} for literal braces)",
        id="unknown-placeholder",
    ),
    pytest.param(
        CRUD + 'id = "a..b"\n',
        "crud.id: not a valid JMESPath expression 'a..b': Expecting: ['quoted_identifier', "
        "'unquoted_identifier', 'lbracket', 'lbrace'], got: dot: Parse error at column 2, "
        'token "." (DOT)',
        id="bad-jmespath",
    ),
    pytest.param(
        '[auth.login]\nurl = "/login"\nformat = "form"\n'
        'body = { user = { email = "me@example.com" } }\n',
        'auth.login.body.user: a form body (format = "form") must be flat, string values only; '
        "got a table",
        id="form-body-not-flat",
    ),
    pytest.param(
        '[crud]\ncollection = "/api/items"\ncreate = { name = "smoke" }\n',
        'crud.create: must hold {marker} in one of its strings, e.g. name = "smoke-{marker}"; '
        "it is how the suite finds what it created",
        id="create-without-marker",
    ),
    pytest.param(
        'version = 2\n[service]\nhealth = ["/health"]\n',
        "version: version 2 is not supported by this release (supports 1)",
        id="unsupported-version",
    ),
    pytest.param(
        '[rate_limit]\npath = "/api/ping"\nburst = "60"\n',
        'rate_limit.burst: expected an integer from 1 to 10000, got the string "60"',
        id="burst-as-string",
    ),
    pytest.param(
        '[service]\nsla_path = "/api/items"\nsla_samples = -3\n',
        "service.sla_samples: expected an integer from 1 to 1000, got -3",
        id="negative-sla-samples",
    ),
    pytest.param(
        '[events]\nchannel = "${UNDEFINED_CHANNEL}"\n',
        "events.channel: uses ${UNDEFINED_CHANNEL}, which the env profile does not set; "
        "add it to the profile or the environment",
        id="undefined-variable",
    ),
    pytest.param(
        '[service\nhealth = ["/health"]\n',
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)",
        id="invalid-toml",
    ),
    pytest.param(
        '[[database.violations]]\nname = "duplicate"\nstatement = "INSERT 1"\nexpect = "uniq"\n',
        'database.violations[0].expect: expected one of "unique", "foreign_key", "check", '
        '"not_null", "row_level_security", got the string "uniq"; did you mean unique?',
        id="violation-expect-not-in-enum",
    ),
    pytest.param(
        '[[database.violations]]\nname = "duplicate"\nstatement = "INSERT 1"\n'
        'expect = "unique"\n'
        '[[database.violations]]\nname = "fk"\nstatement = "INSERT 2"\nexpect = "foreign_key"\n'
        'also_acept = ["row_level_security"]\n',
        "database.violations[1].also_acept: unknown key; did you mean also_accept?",
        id="unknown-key-in-violation",
    ),
    pytest.param(
        '[service]\nhealth = ["health"]\n',
        'service.health[0]: expected a path starting with "/" or an http(s) URL, '
        'got the string "health"',
        id="path-without-slash",
    ),
    pytest.param(
        '[production.cors]\npath = "/api/items"\nallowed_origin = "https://app.example.com"\n',
        "production.cors: missing required key denied_origin",
        id="cors-without-denied-origin",
    ),
    pytest.param(
        '[[endpoints]]\nname = "health"\npath = "/health"\n'
        '[[endpoints]]\nname = "health"\npath = "/healthz"\n',
        "endpoints[1].name: 'health' is also the name of endpoints[0]; each needs a name of its "
        "own (the test id is test_endpoint[health])",
        id="duplicate-endpoint-name",
    ),
    pytest.param(
        '[[workflows]]\nname = "signup"\n[[workflows.steps]]\npath = "/api/user"\n'
        'headers = { Authorization = "Bearer {saved.token}" }\n',
        "workflows[0].steps[0].headers.Authorization: uses {saved.token}, which no earlier step "
        'saves; save it first, e.g. save = { token = "<JMESPath into the answer>" } in a step '
        "before this one",
        id="workflow-saved-value-never-saved",
    ),
    pytest.param(
        '[[workflows]]\nname = "signup"\n[[workflows.steps]]\nmethod = "POST"\n'
        'path = "/api/users"\nbody = { email = "{mail}" }\n',
        "workflows[0].steps[0].body.email: unknown placeholder {mail}; use {marker}, {email} or "
        "{saved.NAME} (or {{mail}} for literal braces)",
        id="workflow-unknown-placeholder",
    ),
    pytest.param(
        '[[workflows]]\nname = "a"\n[[workflows.steps]]\npath = "/a"\n'
        '[[workflows]]\nname = "a"\n[[workflows.steps]]\npath = "/b"\n',
        "workflows[1].name: 'a' is also the name of workflows[0]; each needs a name of its own "
        "(the test id is test_workflow[a])",
        id="duplicate-workflow-name",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_bad_checks_file_is_one_line_and_exit_4(
    pytester: pytest.Pytester, text: str, expected: str
) -> None:
    pytester.makefile(".toml", **{"smoke-checks": text})
    pytester.makefile(".ci", **{".env": "SMOKE_TEST_CHECKS_FILE=smoke-checks.toml\n"})
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest("--smoke-env", "ci", "--smoke-gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    messages = [line for line in result.stderr.lines if line.strip()]
    checks_file = pytester.path / "smoke-checks.toml"
    assert messages == [f"ERROR: smoke: checks file {checks_file}: {expected}"]


def test_a_secret_from_the_profile_never_shows_in_the_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        **{"smoke-checks": '[auth]\nprotected = "${SMOKE_TEST_PASSWORD}"\n'},
    )
    pytester.makefile(
        ".ci",
        **{".env": "SMOKE_TEST_CHECKS_FILE=smoke-checks.toml\nSMOKE_TEST_PASSWORD=hunter2-xyz\n"},
    )
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest("--smoke-env", "ci", "--smoke-gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "hunter2" not in output
    assert (
        'auth.protected: expected a path starting with "/" or an http(s) URL, '
        'got the string "${SMOKE_TEST_PASSWORD}"'
    ) in output
