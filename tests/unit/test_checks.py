"""The checks file: TOML, ${VAR} from the profile, one-line errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_smoke.checks import ChecksError, load_checks

if TYPE_CHECKING:
    from pathlib import Path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return path


def test_variables_are_expanded_everywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[events]
channel = "${CHANNEL}"
[crud]
create = { name = "smoke-{marker}", tags = ["${TAG}", "x"] }
""",
    )
    checks = load_checks(path, {"CHANNEL": "demo:items:1", "TAG": "t"})
    assert checks.get("events.channel") == "demo:items:1"
    assert checks.get("crud.create") == {"name": "smoke-{marker}", "tags": ["t", "x"]}
    assert checks.section("crud") is not None
    assert checks.get("nope.deeper", 5) == 5


def test_an_unset_variable_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, 'channel = "${MISSING_ONE}"\n')
    with pytest.raises(ChecksError, match=r"uses \$\{MISSING_ONE\}, which the env profile"):
        load_checks(path, {})


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[service\nhealth = 1\n")
    with pytest.raises(ChecksError, match="is not valid TOML") as caught:
        load_checks(path, {})
    assert "\n" not in str(caught.value)
