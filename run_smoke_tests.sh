#!/usr/bin/env bash
# Run the bundled smoke suite (tests/smoke) with the rollback gate on; exit with the gate's code.
set -euo pipefail

readonly PROG="run_smoke_tests.sh"
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly VENV="${SMOKE_VENV:-$HERE/.venv}"
readonly REPORTS="${SMOKE_REPORTS_DIR:-$HERE/reports}"

usage() {
  cat <<EOF
Usage: ./$PROG [options] [-- pytest arguments]

Runs tests/smoke against the deployment an env profile describes, with the smoke gate on,
and exits with the gate's status.

Options:
  --env NAME         load the profile .env.NAME (see .env.staging.example);
                     --env demo starts the demo deployment (examples/demo) and runs against it
  --demo-fault NAME  with --env demo: start the demo broken on purpose (the app's CONTRACT.md)
  --demo-app NAME    with --env demo: which app, items (examples/demo, the default) or
                     articles (examples/articles: OAuth2 form login, PostgreSQL only)
  --demo-keep        with --env demo: leave the demo running after the run, and say how to
                     stop it (to look at what the run left, or run again by hand)
  --env-file PATH    load the profile from PATH instead
  --quick            run only tests marked critical
  --read-only        read-only profile (production): checks that write are not run, the HTTP
                     client refuses POST/PUT/PATCH/DELETE, database sessions are READ ONLY
  --report           write reports/junit.xml, reports/smoke.html, reports/smoke-gate.json
                     (into \$SMOKE_REPORTS_DIR instead, when set)
  --parallel         run tests in parallel (pytest-xdist, -n auto)
  --verbose          list each test as it runs
  --timeout SECONDS  fail any single test that runs longer (pytest-timeout)
  -h, --help         show this help
  -- ARGS            pass ARGS to pytest unchanged

Exit status:
  0   PROCEED or MONITOR: keep the deployment
  10  INVESTIGATE: the run cannot be trusted (nothing ran, collection errors, flaky, crash)
  11  ROLLBACK: a critical or database test failed, a dependency is down, or too many failed
  2   bad usage of this script;  1, 3, 4 pytest could not run (3 also when the gate crashed)

Python: an active virtual environment with pytest-smoke-gate is used as it is; otherwise
$VENV is created on first run and the project installed into it with its extras.
EOF
}

fail_usage() {
  echo "$PROG: $1" >&2
  echo "Try './$PROG --help'." >&2
  exit 2
}

env_args=()
pytest_args=()
report=0
demo=0
demo_fault=""
demo_app=""
demo_keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env|--env=*)
      if [[ "$1" == --env ]]; then
        [[ $# -ge 2 && -n "$2" ]] || fail_usage "--env needs a profile NAME"
        name="$2"; shift 2
      else
        name="${1#*=}"; shift
      fi
      if [[ "$name" == demo ]]; then demo=1; else env_args=(--smoke-env "$name"); fi ;;
    --demo-fault)
      [[ $# -ge 2 && -n "$2" ]] || fail_usage "--demo-fault needs a fault NAME"
      demo_fault="$2"; shift 2 ;;
    --demo-app)
      [[ $# -ge 2 && ( "$2" == items || "$2" == articles ) ]] \
        || fail_usage "--demo-app needs an app NAME: items or articles"
      demo_app="$2"; shift 2 ;;
    --demo-keep) demo_keep=1; shift ;;
    --env-file)
      [[ $# -ge 2 && -n "$2" ]] || fail_usage "--env-file needs a PATH"
      case "$2" in /*) env_args=(--smoke-env-file "$2") ;; *) env_args=(--smoke-env-file "$PWD/$2") ;; esac
      shift 2 ;;
    --quick) pytest_args+=(--smoke-quick); shift ;;
    --read-only) pytest_args+=(--smoke-read-only); shift ;;
    --report) report=1; shift ;;
    --parallel) pytest_args+=(-n auto); shift ;;
    --verbose) pytest_args+=(-v); shift ;;
    --timeout)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+([.][0-9]+)?$ ]] \
        || fail_usage "--timeout needs a number of SECONDS, e.g. --timeout 120"
      pytest_args+=(--timeout "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; pytest_args+=("$@"); break ;;
    *) echo "$PROG: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

has_plugin() {
  local modules="pytest_smoke, xdist, pytest_html, pytest_timeout, pytest_asyncio"
  [[ $demo -eq 1 ]] && modules="$modules, fastapi, uvicorn, trustme, sqlalchemy, redis, httpx"
  [[ $demo_app == articles ]] && modules="$modules, asyncpg, jwt, python_multipart"
  "$1" -c "import $modules" >/dev/null 2>&1
}

find_python() {
  if [[ -n "${VIRTUAL_ENV:-}" ]] && has_plugin "$VIRTUAL_ENV/bin/python"; then
    echo "$VIRTUAL_ENV/bin/python"; return
  fi
  if [[ -x "$VENV/bin/python" ]] && has_plugin "$VENV/bin/python"; then
    echo "$VENV/bin/python"; return
  fi
  local base
  base="$(command -v python3 || true)"
  [[ -n "$base" ]] || { echo "$PROG: python3 not found; install Python 3.11 or newer" >&2; exit 1; }
  "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "$PROG: $("$base" --version 2>&1) is too old; install Python 3.11 or newer" >&2; exit 1; }
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "$PROG: first run: creating $VENV and installing pytest-smoke-gate (a minute)..." >&2
    "$base" -m venv "$VENV" >&2 \
      || { echo "$PROG: could not create a virtual environment; install python3-venv" >&2; exit 1; }
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$HERE[all,demo]" >&2 \
    || { echo "$PROG: installing the project into $VENV failed (see above)" >&2; exit 1; }
  echo "$VENV/bin/python"
}

[[ -n "$demo_fault" && $demo -eq 0 ]] && fail_usage "--demo-fault needs --env demo"
[[ -n "$demo_app" && $demo -eq 0 ]] && fail_usage "--demo-app needs --env demo"
[[ $demo_keep -eq 1 && $demo -eq 0 ]] && fail_usage "--demo-keep needs --env demo"
python="$(find_python)"

if [[ $demo -eq 1 ]]; then
  report=1  # the demo run always writes its reports
fi
if [[ $report -eq 1 ]]; then
  mkdir -p "$REPORTS"
  pytest_args=(
    --junitxml "$REPORTS/junit.xml"
    --html "$REPORTS/smoke.html" --self-contained-html
    --smoke-report-json "$REPORTS/smoke-gate.json"
    "${pytest_args[@]}"
  )
fi

cd "$HERE"
# -W default: a library's deprecation warning must never turn a smoke check into a failure,
# whatever the project's own warning filters say.
run_suite() {
  "$python" -m pytest tests/smoke --smoke-gate -ra -W default \
    ${env_args[@]+"${env_args[@]}"} ${pytest_args[@]+"${pytest_args[@]}"}
}

if [[ $demo -eq 0 ]]; then
  exec_status=0
  run_suite || exec_status=$?
  exit "$exec_status"
fi

# The demo: start it (and PostgreSQL/Redis if none is running), run against it, stop it.
state="$(mktemp -d "${TMPDIR:-/tmp}/smoke-demo.XXXXXX")"
stop_demo() {
  "$python" "$HERE/examples/demo/launch.py" down --state-dir "$state" >&2 || true
  rm -rf "$state"
}
trap stop_demo EXIT
trap 'exit 130' INT TERM
profile="$("$python" "$HERE/examples/demo/launch.py" up --state-dir "$state" \
  ${demo_app:+--app "$demo_app"} ${demo_fault:+--fault "$demo_fault"})" || exit 1
if [[ $demo_keep -eq 1 ]]; then
  trap - EXIT
  echo "$PROG: --demo-keep: the demo keeps running after the run; stop it with:" \
    "$python $HERE/examples/demo/launch.py down --state-dir $state && rmdir $state" >&2
fi
env_args=(--smoke-env-file "$profile")
status=0
run_suite || status=$?
exit "$status"
