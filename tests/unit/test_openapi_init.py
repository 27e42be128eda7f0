"""``smoke-gate init`` and ``python -m pytest_smoke init``: the command line around the draft.

In-process through :func:`pytest_smoke.cli.main` (the real command: documents are read from
files and a local HTTP server), plus one run of ``python -m pytest_smoke init`` as a process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clients.http_server import closed_port
from pytest_smoke import cli
from pytest_smoke.checks import load_checks

from .openapi_server import serving_files

DOCUMENTS = Path(__file__).parent / "openapi_documents"
VARIABLES = {"SMOKE_TEST_USERNAME": "me", "SMOKE_TEST_PASSWORD": "pw"}


def init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["init", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_help_names_the_option_and_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = init(capsys, "--help")
    assert status == 0
    assert "Usage: smoke-gate init [OPTIONS]" in out
    for text in ("--openapi URL-OR-FILE", "-o, --output FILE", "--ca-bundle", "guessed'"):
        assert text in out
    assert "2 bad usage, or OUTPUT exists (give --force)" in out


def test_init_is_listed_with_the_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    listed = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert "init Draft a checks file from the deployment's OpenAPI document." in listed


def test_a_draft_is_written_validated_and_summed_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "smoke-checks.toml"
    status, out, err = init(
        capsys, "--openapi", str(DOCUMENTS / "library-3.1.json"), "-o", str(output)
    )
    assert status == 0, err
    assert out == ""
    assert err.splitlines() == [
        f"smoke-gate init: wrote {output} from {DOCUMENTS / 'library-3.1.json'}: 1 health "
        "path(s), auth Bearer, 2 endpoint(s), crud /books, 3 contract check(s); 11 line(s) "
        "marked '# guessed' to check"
    ]
    checks = load_checks(output, VARIABLES)
    assert checks.get("auth.login.url") == "/oauth/token"
    assert (output.parent / checks.get("openapi.document")).resolve() == (
        DOCUMENTS / "library-3.1.json"
    ).resolve()


def test_without_output_the_draft_goes_to_standard_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DOCUMENTS / "library-3.1.json", tmp_path / "openapi.json")
    monkeypatch.chdir(tmp_path)
    status, out, err = init(capsys, "--openapi", "openapi.json")
    assert status == 0, err
    assert out.startswith("# Drafted by `smoke-gate init` from ")
    assert 'document = "openapi.json" # a local file, relative to this checks file' in out
    assert err.startswith("smoke-gate init: drafted from ")


def test_a_document_over_http(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "smoke-checks.toml"
    with serving_files(DOCUMENTS) as url:
        status, _, err = init(capsys, "--openapi", f"{url}/shop-3.0.yaml", "-o", str(output))
    assert status == 0, err
    checks = load_checks(output, VARIABLES)
    assert checks.get("openapi.document") == "/shop-3.0.yaml"  # a path on the gateway
    assert checks.get("crud.collection") == "/v2/orders"


def test_an_existing_output_is_kept_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "smoke-checks.toml"
    output.write_text("# mine\n")
    args = ["--openapi", str(DOCUMENTS / "library-3.1.json"), "-o", str(output)]
    status, _, err = init(capsys, *args)
    assert status == 2
    assert err.splitlines() == [
        f"smoke-gate init: {output} exists; give --force to overwrite it; "
        "see 'smoke-gate init --help'"
    ]
    assert output.read_text() == "# mine\n"
    status, _, err = init(capsys, *args, "--force")
    assert status == 0, err
    assert output.read_text().startswith("# Drafted by")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing option '--openapi'"),
        (["--openapi"], "option '--openapi' requires an argument"),
        (["--openapi", "x.json", "--bogus"], "no such option '--bogus'"),
        (["--openapi", "x.json", "--timeout", "soon"], "'soon' is not a number of seconds"),
        (["--openapi", "x.json", "--ca-bundle", "/no/such.pem"], "/no/such.pem"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, out, err = init(capsys, *args)
    assert status == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("smoke-gate init: ")
    assert message in line
    assert line.endswith("see 'smoke-gate init --help'")


def test_a_document_that_cannot_be_used_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/openapi.json"
    status, out, err = init(capsys, "--openapi", url, "-o", str(tmp_path / "c.toml"))
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        f"smoke-gate init: OpenAPI document {url}: cannot fetch it: connection refused"
    ]
    invalid = tmp_path / "openapi.json"
    invalid.write_text('{"openapi": "3.0.3", "paths": {}}')
    status, _, err = init(capsys, "--openapi", str(invalid))
    assert status == 1
    [line] = err.splitlines()
    assert line.startswith(
        f"smoke-gate init: OpenAPI document {invalid}: not a valid OpenAPI 3.0.3 document: "
    )
    assert line.endswith(("'info' is a required property", '"info" is a required property'))
    assert not (tmp_path / "c.toml").exists()


def test_python_dash_m_pytest_smoke_init(tmp_path: Path) -> None:
    output = tmp_path / "smoke-checks.toml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_smoke",
            "init",
            "--openapi",
            str(DOCUMENTS / "shop-3.0.yaml"),
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"python -m pytest_smoke init: wrote {output} from ")
    assert load_checks(output, VARIABLES).get("auth.header") == "X-API-Key"
    missing = subprocess.run(
        [sys.executable, "-m", "pytest_smoke", "init", "--openapi", str(tmp_path / "no.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"python -m pytest_smoke init: OpenAPI document {tmp_path / 'no.yaml'}: cannot read "
        "it: No such file or directory"
    ]


def test_without_the_openapi_extra_init_names_it_and_exits_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openapi_core", None)  # as if it were not installed
    status, out, err = init(capsys, "--openapi", str(DOCUMENTS / "library-3.1.json"))
    assert (status, out) == (4, "")
    assert err.splitlines() == [
        "smoke-gate init: init needs the openapi extra (missing: openapi_core): "
        "pip install 'pytest-smoke-gate[openapi]'"
    ]
