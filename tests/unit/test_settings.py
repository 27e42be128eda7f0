"""Settings resolution: precedence, profiles, validation. Plain function calls, no pytest run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_smoke.settings import SPECS, Settings, SettingsError, load_settings, mask_url

ROOT = Path(__file__).resolve().parents[2]


def load(
    tmp_path: Path,
    *,
    cli: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    ini: dict[str, str] | None = None,
    profile: str | None = None,
) -> Settings:
    if profile is not None:
        (tmp_path / ".env.staging").write_text(profile)
        cli = {"profile": "staging", **(cli or {})}
    return load_settings(cli=cli or {}, environ=environ or {}, ini=ini or {}, rootdir=tmp_path)


def test_defaults_come_from_the_seed_documents(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.timeout == 30
    assert settings.metric_threshold_cpu == 80
    assert settings.metric_threshold_memory == 500
    assert settings.max_failure_percent == 20
    assert settings.rollback_categories == {"database"}
    assert settings.gate is False
    assert settings.database_url is None


def test_precedence_option_over_environment_over_profile_over_ini(tmp_path: Path) -> None:
    ini = {
        "smoke_timeout": "11",
        "smoke_max_skip_percent": "41",
        "smoke_max_failure_percent": "31",
        "smoke_category_min_tests": "3",
    }
    profile = (
        "SMOKE_TEST_TIMEOUT=12\nSMOKE_GATE_MAX_SKIP_PERCENT=42\nSMOKE_GATE_MAX_FAILURE_PERCENT=32\n"
    )
    environ = {"SMOKE_TEST_TIMEOUT": "13", "SMOKE_GATE_MAX_SKIP_PERCENT": "43"}
    cli = {"timeout": "14"}
    settings = load(tmp_path, cli=cli, environ=environ, ini=ini, profile=profile)
    assert settings.timeout == 14  # option beats all
    assert settings.max_skip_percent == 43  # environment beats profile and ini
    assert settings.max_failure_percent == 32  # profile beats ini
    assert settings.category_min_tests == 3  # ini beats default
    assert settings.sources["timeout"] == "command line"
    assert settings.sources["max_skip_percent"] == "environment"
    assert settings.sources["max_failure_percent"] == "profile .env.staging"
    assert settings.sources["category_min_tests"] == "ini"


def test_profile_reads_every_seed_name(tmp_path: Path) -> None:
    profile = """
# a comment
SMOKE_TEST_DATABASE_URL="postgresql+asyncpg://app:s3cret@db.internal:5432/app"
SMOKE_TEST_REDIS_URL=redis://cache.internal:6379/1
export GATEWAY_URL=https://api.staging.example.com
SMOKE_TEST_TIMEOUT=45
AZURE_KEYVAULT_NAME=kv-staging
AZURE_SECRET_LIST=["db-password", "api-key"]
AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000001
AZURE_CLIENT_SECRET=shh
AZURE_TENANT_ID=00000000-0000-0000-0000-000000000002
VM_RESOURCE_ID=/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm
METRIC_THRESHOLD_CPU=75
METRIC_THRESHOLD_MEMORY=1024
"""
    settings = load(tmp_path, profile=profile)
    assert settings.profile == "staging"
    assert settings.database_url == "postgresql+asyncpg://app:s3cret@db.internal:5432/app"
    assert settings.redis_url == "redis://cache.internal:6379/1"
    assert settings.gateway_url == "https://api.staging.example.com"
    assert settings.timeout == 45
    assert settings.azure_secret_list == ("db-password", "api-key")
    assert settings.azure_client_secret == "shh"
    assert settings.metric_threshold_cpu == 75
    assert settings.metric_threshold_memory == 1024


def test_profile_interpolates_variables(tmp_path: Path) -> None:
    profile = "DB_HOST=db.internal\nSMOKE_TEST_DATABASE_URL=postgresql://u@${DB_HOST}:5432/app\n"
    settings = load(tmp_path, profile=profile)
    assert settings.database_url == "postgresql://u@db.internal:5432/app"


def test_secrets_never_appear_in_repr_or_describe(tmp_path: Path) -> None:
    profile = (
        "SMOKE_TEST_DATABASE_URL=postgresql://app:pa55word@db:5432/app\n"
        "AZURE_CLIENT_SECRET=client-s3cret\nSMOKE_TEST_REDIS_URL=redis://:r3dis@cache:6379/0\n"
    )
    settings = load(tmp_path, profile=profile)
    shown = repr(settings) + repr(settings.describe())
    for secret in ("pa55word", "client-s3cret", "r3dis"):
        assert secret not in shown
    assert (
        "SMOKE_TEST_DATABASE_URL",
        "postgresql://app:***@db:5432/app",
        "profile .env.staging",
    ) in settings.describe()


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = load(tmp_path)
    with pytest.raises(AttributeError):
        settings.timeout = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"environ": {"SMOKE_TEST_TIMEOUT": "soon"}},
            "SMOKE_TEST_TIMEOUT='soon' (environment) is not a number; set it in seconds",
            id="timeout-not-a-number",
        ),
        pytest.param(
            {"environ": {"SMOKE_TEST_TIMEOUT": "0"}},
            "SMOKE_TEST_TIMEOUT='0' (environment) must be more than 0",
            id="timeout-zero",
        ),
        pytest.param(
            {"cli": {"max_failure_percent": "120"}},
            "--smoke-max-failure-percent='120' (command line) is out of range; it must "
            "be between 0 and 100",
            id="threshold-over-100",
        ),
        pytest.param(
            {"ini": {"smoke_max_skip_percent": "-5"}},
            "smoke_max_skip_percent='-5' (ini) is out of range",
            id="threshold-negative",
        ),
        pytest.param(
            {"environ": {"METRIC_THRESHOLD_CPU": "150"}},
            "METRIC_THRESHOLD_CPU='150' (environment) is out of range",
            id="cpu-over-100",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "api.example.com"}},
            "GATEWAY_URL='api.example.com' (environment) needs a scheme and a host",
            id="url-without-scheme",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "https://"}},
            "needs a scheme and a host",
            id="url-without-host",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "ftp://files.example.com"}},
            "has scheme 'ftp'; use one of http, https",
            id="url-wrong-scheme",
        ),
        pytest.param(
            {"environ": {"SMOKE_TEST_DATABASE_URL": "postgresql://db:notaport/app"}},
            "SMOKE_TEST_DATABASE_URL=(hidden) (environment) is not a valid URL",
            id="url-bad-port-secret-hidden",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "http://a b"}},
            "GATEWAY_URL='http://a b' (environment) contains whitespace; use the form "
            "https://api.example.com",
            id="url-space-in-host",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "http://exa mple.com"}},
            "GATEWAY_URL='http://exa mple.com' (environment) contains whitespace",
            id="url-space-in-name",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "https://api.example.com/v1\tx"}},
            "contains whitespace",
            id="url-tab-in-path",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "http://[::1"}},
            "GATEWAY_URL='http://[::1' (environment) is not a valid URL",
            id="url-unclosed-ipv6",
        ),
        pytest.param(
            {"environ": {"GATEWAY_URL": "http://exa$mple.com"}},
            "GATEWAY_URL='http://exa$mple.com' (environment) has an invalid host name; use the "
            "form https://api.example.com",
            id="url-bad-host-character",
        ),
        pytest.param(
            {"ini": {"smoke_login_url": "https://api..example.com/login"}},
            "smoke_login_url='https://api..example.com/login' (ini) has an invalid host name",
            id="url-empty-host-label",
        ),
        pytest.param(
            {"environ": {"SMOKE_TEST_REDIS_URL": "redis://:pass word@cache:6379/0"}},
            "SMOKE_TEST_REDIS_URL=(hidden) (environment) contains whitespace",
            id="url-whitespace-secret-hidden",
        ),
        pytest.param(
            {"environ": {"SMOKE_TEST_TOKEN_PATH": "a..b"}},
            "SMOKE_TEST_TOKEN_PATH='a..b' (environment) is not a valid JMESPath expression "
            "'a..b': ",
            id="token-path-not-jmespath",
        ),
        pytest.param(
            {"ini": {"smoke_token_path": "data.0.token"}},
            "smoke_token_path='data.0.token' (ini) is not a valid JMESPath expression",
            id="token-path-dotted-index",
        ),
        pytest.param(
            {"cli": {"category_min_tests": "two"}}, "is not a whole number", id="count-not-a-number"
        ),
        pytest.param(
            {"cli": {"rollback_categories": "database,servce"}},
            "names unknown category servce",
            id="unknown-category",
        ),
        pytest.param({"environ": {"SMOKE_GATE": "maybe"}}, "is not a boolean", id="bad-bool"),
        pytest.param(
            {"environ": {"AZURE_SECRET_LIST": '["a", 1]'}},
            "must list names as strings",
            id="bad-secret-list",
        ),
    ],
)
def test_bad_values_are_one_line_naming_setting_and_fix(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, **kwargs)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_profile_lists_the_available_ones(tmp_path: Path) -> None:
    (tmp_path / ".env.demo").write_text("")
    (tmp_path / ".env.staging.example").write_text("")
    with pytest.raises(
        SettingsError,
        match=r"--smoke-env prod: unknown profile, .*\.env\.prod "
        r"does not exist \(profiles in .*: demo\); create it from "
        r"\.env\.staging\.example or pass --smoke-env-file PATH",
    ):
        load(tmp_path, cli={"profile": "prod"})


def test_profile_name_cannot_be_a_path(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="is not a profile name"):
        load(tmp_path, cli={"profile": "../etc/passwd"})


def test_malformed_profile_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"line 2 is not KEY=VALUE: 'this is not valid'"):
        load(tmp_path, profile="GATEWAY_URL=https://x.example.com\nthis is not valid\n")


def test_misspelt_setting_in_profile_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError,
        match="unknown setting SMOKE_TEST_DATABSE_URL; did you mean SMOKE_TEST_DATABASE_URL",
    ):
        load(tmp_path, profile="SMOKE_TEST_DATABSE_URL=postgresql://db/app\n")


def test_other_variables_in_a_profile_are_allowed(tmp_path: Path) -> None:
    assert load(tmp_path, profile="MY_APP_FLAG=1\n").profile == "staging"


def test_non_utf8_profile_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env.staging").write_bytes(b"GATEWAY_URL=\xff\xfe\n")
    with pytest.raises(SettingsError, match="is not UTF-8 text"):
        load(tmp_path, cli={"profile": "staging"})


def test_unreadable_profile_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root reads any file whatever its mode; this one fails with EIO
        path = Path("/proc/self/mem")
    else:
        path = tmp_path / ".env.staging"
        path.write_text("")
        path.chmod(0)
    with pytest.raises(
        SettingsError,
        match=r"cannot read profile file .*: (Permission denied|"
        r"Input/output error)",
    ):
        load(tmp_path, cli={"profile_file": str(path)})


def test_env_file_option_takes_any_path(tmp_path: Path) -> None:
    path = tmp_path / "deploy" / "smoke.env"
    path.parent.mkdir()
    path.write_text("GATEWAY_URL=http://127.0.0.1:8000\n")
    settings = load(tmp_path, cli={"profile_file": str(path)})
    assert settings.gateway_url == "http://127.0.0.1:8000"
    assert settings.profile_file == path


def test_missing_env_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"--smoke-env-file .*nope\.env: no such file"):
        load(tmp_path, cli={"profile_file": str(tmp_path / "nope.env")})


def test_the_example_profile_documents_every_setting() -> None:
    example = (ROOT / ".env.staging.example").read_text()
    missing = [spec.env for spec in SPECS if spec.env and spec.env not in example]
    assert missing == []


def test_the_example_profile_loads(tmp_path: Path) -> None:
    settings = load_settings(
        cli={"profile_file": str(ROOT / ".env.staging.example")},
        environ={},
        ini={},
        rootdir=tmp_path,
    )
    assert settings.profile == "staging.example"


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://app:pw@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert mask_url("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("https://api.example.com") == "https://api.example.com"


def test_gate_policy_defaults_match_the_settings_table(tmp_path: Path) -> None:
    # The table repeats the numbers so the plugin need not import the gate in every run.
    from pytest_smoke.gate import Policy

    assert load(tmp_path).policy == Policy()


def test_the_settings_page_documents_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for spec in SPECS:
        for name in (spec.env, spec.option, spec.ini):
            assert name is None or f"`{name}`" in page, name


def test_every_option_names_its_environment_variable_and_ini_key() -> None:
    # `pytest --help` shows both after each option's text (setting_specs.add_options).
    with_option = [spec for spec in SPECS if spec.option]
    assert [spec.name for spec in with_option if not spec.env] == []
    assert [spec.name for spec in with_option if not spec.ini] == []


def test_a_bad_vm_resource_id_shows_the_expected_format(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, environ={"VM_RESOURCE_ID": "/subscriptions/s/resourceGroups/rg/vm1"})
    assert str(caught.value) == (
        "VM_RESOURCE_ID='/subscriptions/s/resourceGroups/rg/vm1' (environment) is not a VM "
        "resource ID; expected /subscriptions/{subscription}/resourceGroups/{group}/providers/"
        "Microsoft.Compute/virtualMachines/{vm}"
    )


def test_a_good_vm_resource_id_is_kept() -> None:
    value = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    assert (
        load_settings(
            cli={}, environ={"VM_RESOURCE_ID": value}, ini={}, rootdir=ROOT
        ).vm_resource_id
        == value
    )


def test_an_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    # GitHub Actions passes a secret that does not exist as "": it must not be a bad URL.
    settings = load(
        tmp_path,
        environ={"GATEWAY_URL": "", "SMOKE_TEST_TIMEOUT": " "},
        profile="GATEWAY_URL=https://from-profile.example.com\n",
    )
    assert settings.gateway_url == "https://from-profile.example.com"
    assert settings.timeout == 30


@pytest.mark.parametrize(
    "value",
    [
        "http://[::1]:8080/api",
        "https://bücher.example/api",
        "https://api.example.com./",
        "http://svc_gateway.internal:8000",
        "  https://api.example.com  ",
    ],
)
def test_valid_urls_are_kept(tmp_path: Path, value: str) -> None:
    assert load(tmp_path, environ={"GATEWAY_URL": value}).gateway_url == value.strip()


@pytest.mark.parametrize("path", ["access_token", "user.token", "data[0].token", '"access-token"'])
def test_token_path_is_a_jmespath_expression(tmp_path: Path, path: str) -> None:
    assert load(tmp_path, environ={"SMOKE_TEST_TOKEN_PATH": path}).token_path == path


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        (
            {},
            "SMOKE_TEST_USERNAME and SMOKE_TEST_PASSWORD are not; set SMOKE_TEST_USERNAME and "
            "SMOKE_TEST_PASSWORD",
        ),
        (
            {"SMOKE_TEST_USERNAME": "smoke-bot"},
            "SMOKE_TEST_PASSWORD is not; set SMOKE_TEST_PASSWORD ",
        ),
        ({"SMOKE_TEST_PASSWORD": "pw-planted-31"}, "SMOKE_TEST_USERNAME is not; set "),
    ],
    ids=["both", "password", "username"],
)
def test_a_login_url_needs_username_and_password(
    tmp_path: Path, credentials: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(
            tmp_path,
            environ=credentials,
            profile="SMOKE_TEST_LOGIN_URL=https://api.example.com/login\n",
        )
    message = str(caught.value)
    assert message.startswith(f"SMOKE_TEST_LOGIN_URL is set (profile .env.staging) but {missing}")
    assert message.endswith("in the env profile or the environment, or remove SMOKE_TEST_LOGIN_URL")
    assert "\n" not in message
    assert "pw-planted-31" not in message


def test_a_login_url_with_credentials_is_accepted(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        environ={"SMOKE_TEST_USERNAME": "smoke-bot", "SMOKE_TEST_PASSWORD": "pw"},
        ini={"smoke_login_url": "https://api.example.com/login"},
    )
    assert settings.login_url == "https://api.example.com/login"


def test_a_login_body_in_the_checks_file_replaces_username_and_password(tmp_path: Path) -> None:
    checks = tmp_path / "checks.toml"
    checks.write_text('[auth.login]\nbody = { api_key = "${SERVICE_KEY}" }\n')
    settings = load(
        tmp_path,
        environ={
            "SMOKE_TEST_LOGIN_URL": "https://api.example.com/login",
            "SMOKE_TEST_CHECKS_FILE": str(checks),
        },
    )
    assert settings.login_url == "https://api.example.com/login"


def test_a_checks_file_without_a_login_body_still_needs_the_credentials(tmp_path: Path) -> None:
    checks = tmp_path / "checks.toml"
    checks.write_text('[auth.login]\nformat = "form"\n')
    with pytest.raises(SettingsError, match="SMOKE_TEST_USERNAME and SMOKE_TEST_PASSWORD are not"):
        load(
            tmp_path,
            environ={
                "SMOKE_TEST_LOGIN_URL": "https://api.example.com/login",
                "SMOKE_TEST_CHECKS_FILE": str(checks),
            },
        )


# -- category rules (smoke_category_rules): parsed, validated, carried into the policy --

MATRIX_TEXT = "workflow: rollback<50, investigate<=80"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"ini": {"smoke_category_rules": MATRIX_TEXT}}, id="ini"),
        pytest.param({"cli": {"category_rules": MATRIX_TEXT}}, id="option"),
        pytest.param({"environ": {"SMOKE_GATE_CATEGORY_RULES": MATRIX_TEXT}}, id="environment"),
        pytest.param({"profile": f"SMOKE_GATE_CATEGORY_RULES={MATRIX_TEXT}\n"}, id="profile"),
    ],
)
def test_category_rules_reach_the_policy_from_every_source(
    tmp_path: Path, kwargs: dict[str, Any]
) -> None:
    from pytest_smoke.gate import CategoryRule, Threshold, Verdict

    settings = load(tmp_path, **kwargs)
    assert settings.policy.category_rules == (
        CategoryRule(
            "workflow",
            (Threshold(Verdict.ROLLBACK, 50), Threshold(Verdict.INVESTIGATE, 80, inclusive=True)),
        ),
    )


def test_no_category_rules_by_default(tmp_path: Path) -> None:
    assert load(tmp_path).policy.category_rules == ()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param(MATRIX_TEXT, MATRIX_TEXT, id="003-matrix"),
        pytest.param(
            "workflow: INVESTIGATE <= 80 %, Rollback<50%; service: rollback<90",
            "workflow: rollback<50, investigate<=80; service: rollback<90",
            id="any-order-case-spaces-percent-sign",
        ),
        pytest.param(
            "\n  workflow: rollback<50, investigate<=80\n  contract: investigate<100\n",
            "workflow: rollback<50, investigate<=80; contract: investigate<100",
            id="one-category-per-ini-line",
        ),
        pytest.param(
            "load: rollback<99.5;", "load: rollback<99.5", id="decimal-trailing-semicolon"
        ),
        pytest.param(
            "workflow: rollback<50, investigate<=50",
            "workflow: rollback<50, investigate<=50",
            id="investigate-exactly-at-50",
        ),
    ],
)
def test_category_rules_syntax(tmp_path: Path, raw: str, shown: str) -> None:
    settings = load(tmp_path, ini={"smoke_category_rules": raw})
    assert "; ".join(str(rule) for rule in settings.category_rules) == shown
    assert ("SMOKE_GATE_CATEGORY_RULES", shown, "ini") in settings.describe()


def test_an_empty_option_turns_off_rules_set_in_ini(tmp_path: Path) -> None:
    settings = load(tmp_path, cli={"category_rules": ""}, ini={"smoke_category_rules": MATRIX_TEXT})
    assert settings.category_rules == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            "workflows: rollback<50",
            "SMOKE_GATE_CATEGORY_RULES='workflows: rollback<50' (environment) names unknown "
            "category 'workflows'; choose from database, redis, service, azure, secrets, "
            "metrics, workflow, contract, load",
            id="unknown-category",
        ),
        pytest.param(
            "workflow: rollback<fifty",
            "SMOKE_GATE_CATEGORY_RULES='workflow: rollback<fifty' (environment) has workflow: "
            "'rollback<fifty': 'fifty' is not a percent; write a number from 0 to 100, e.g. "
            "rollback<50",
            id="bad-number",
        ),
        pytest.param("workflow: rollback<-5", "'-5' is not a percent", id="negative-number"),
        pytest.param(
            "workflow: rollback<150",
            "has workflow: rollback<150: the percent must be between 0 and 100",
            id="number-over-100",
        ),
        pytest.param(
            "workflow: rollback<=80, investigate<50",
            "has workflow: investigate<50 not above rollback<=80: no pass rate would give "
            "INVESTIGATE; set the investigate percent above the rollback one, e.g. workflow: "
            "rollback<50, investigate<=80",
            id="contradicting-thresholds",
        ),
        pytest.param(
            "workflow: rollback<50, investigate<50",
            "investigate<50 not above rollback<50",
            id="empty-investigate-band",
        ),
        pytest.param(
            "workflow: rollback<50, rollback<60", "gives workflow rollback twice", id="level-twice"
        ),
        pytest.param(
            "workflow: rollback<50; workflow: investigate<=80",
            "gives workflow twice; give each category once",
            id="category-twice",
        ),
        pytest.param(
            "workflow: monitor>80",
            "has workflow: 'monitor>80', not LEVEL<PERCENT or LEVEL<=PERCENT",
            id="greater-than",
        ),
        pytest.param(
            "workflow: monitor<90",
            "unknown level 'monitor'; use rollback or investigate",
            id="monitor",
        ),
        pytest.param(
            "workflow rollback<50",
            "has 'workflow rollback<50' without 'CATEGORY:'; write CATEGORY: LEVEL<PERCENT, "
            "LEVEL<=PERCENT, e.g. workflow: rollback<50, investigate<=80",
            id="no-colon",
        ),
        pytest.param(
            "workflow: rollback<50 investigate<=80",
            "is not a percent (separate thresholds with commas)",
            id="missing-comma",
        ),
        pytest.param("workflow:", "gives workflow no threshold", id="no-threshold"),
        pytest.param(
            "workflow: rollback<50,", "gives workflow an empty threshold", id="trailing-comma"
        ),
        pytest.param("workflow: rollback<0", "rollback<0: it never applies", id="never-applies"),
        pytest.param(
            "workflow: investigate<=100",
            "investigate<=100: it applies even when every test passed",
            id="always-applies",
        ),
    ],
)
def test_bad_category_rules_are_one_line_naming_setting_and_fix(
    tmp_path: Path, raw: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, environ={"SMOKE_GATE_CATEGORY_RULES": raw})
    assert message in str(caught.value)
    assert str(caught.value).startswith("SMOKE_GATE_CATEGORY_RULES=")
    assert "\n" not in str(caught.value)


def test_a_bad_multi_line_ini_value_is_still_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, ini={"smoke_category_rules": "\nworkflow: rollback<50\nservce: rollback<90"})
    assert str(caught.value).startswith(
        "smoke_category_rules='\\nworkflow: rollback<50\\nservce: rollback<90' (ini) names "
        "unknown category 'servce'"
    )
    assert "\n" not in str(caught.value)
