#!/usr/bin/env bash
# Run the bundled smoke suite (pytest_smoke.suite) with the rollback gate on; exit with the gate's
# code. A thin wrapper over `smoke-gate run` / `smoke-gate demo` (pytest_smoke.cli): it finds or
# makes a virtual environment with the project installed, then maps its flags onto the command's.
set -euo pipefail

readonly PROG="run_smoke_tests.sh"
readonly HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly VENV="${SMOKE_VENV:-$HERE/.venv}"
readonly REPORTS="${SMOKE_REPORTS_DIR:-$HERE/reports}"

usage() {
  cat <<EOF
Usage: ./$PROG [options] [-- pytest arguments]

Runs the bundled smoke suite (src/pytest_smoke/suite) against the deployment an env profile
describes, with the smoke gate on, and exits with the gate's status: 'smoke-gate run' (or
'smoke-gate demo' for --env demo) from this checkout's virtual environment.

Options:
  --env NAME         load the profile .env.NAME (see .env.staging.example);
                     --env demo starts the demo deployment (examples/demo) and runs against it
                     (smoke-gate demo)
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
run_args=()
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
      if [[ "$name" == demo ]]; then demo=1; else env_args=(--env "$name"); fi ;;
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
      case "$2" in /*) env_args=(--env-file "$2") ;; *) env_args=(--env-file "$PWD/$2") ;; esac
      shift 2 ;;
    --quick|--read-only|--parallel|--verbose) run_args+=("$1"); shift ;;
    --report) report=1; shift ;;
    --timeout)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+([.][0-9]+)?$ ]] \
        || fail_usage "--timeout needs a number of SECONDS, e.g. --timeout 120"
      run_args+=(--timeout "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; pytest_args+=("$@"); break ;;
    *) echo "$PROG: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

has_plugin() {
  local modules="pytest_smoke.cli, click, xdist, pytest_html, pytest_timeout, pytest_asyncio"
  [[ $demo -eq 1 ]] && modules="$modules, fastapi, uvicorn, trustme, sqlalchemy, redis, httpx, aiohttp"
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
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "${HERE}[all,demo]" >&2 \
    || { echo "$PROG: installing the project into $VENV failed (see above)" >&2; exit 1; }
  echo "$VENV/bin/python"
}

[[ -n "$demo_fault" && $demo -eq 0 ]] && fail_usage "--demo-fault needs --env demo"
[[ -n "$demo_app" && $demo -eq 0 ]] && fail_usage "--demo-app needs --env demo"
[[ $demo_keep -eq 1 && $demo -eq 0 ]] && fail_usage "--demo-keep needs --env demo"
python="$(find_python)"

# The rootdir is the working directory: .env.NAME is read from this checkout, as it always was.
cd "$HERE"
if [[ $demo -eq 1 ]]; then
  # The demo: start it (and PostgreSQL/Redis if none is running), run against it with its
  # reports, stop it.
  command=(demo --report "$REPORTS")
  [[ -n "$demo_app" ]] && command+=(--app "$demo_app")
  [[ -n "$demo_fault" ]] && command+=(--fault "$demo_fault")
  [[ $demo_keep -eq 1 ]] && command+=(--keep)
else
  command=(run ${env_args[@]+"${env_args[@]}"})
  [[ $report -eq 1 ]] && command+=(--report="$REPORTS")
fi
exec "$python" -m pytest_smoke.cli "${command[@]}" ${run_args[@]+"${run_args[@]}"} \
  -- ${pytest_args[@]+"${pytest_args[@]}"}
