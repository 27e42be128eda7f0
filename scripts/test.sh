#!/usr/bin/env bash
# The project's own tests: lint, type check, documentation build, unit + plugin + end-to-end tests.
# Creates .venv and installs the project with its extras and the test dependency group on first
# run (reused after).
# Tests that need PostgreSQL or Redis skip, saying so, where those are not running.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SMOKE_VENV:-$here/.venv}"
cd "$here"

if [[ ! -x "$venv/bin/python" ]]; then
  base="$(command -v python3 || true)"
  [[ -n "$base" ]] || { echo "test.sh: python3 not found; install Python 3.11 or newer" >&2; exit 1; }
  "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "test.sh: $("$base" --version 2>&1) is too old; install Python 3.11 or newer" >&2; exit 1; }
  echo "test.sh: creating $venv" >&2
  "$base" -m venv "$venv" || { echo "test.sh: could not create a venv; install python3-venv" >&2; exit 1; }
fi
# Cheap when already installed; keeps the environment in step with pyproject.toml. The tests'
# own tools are a dependency group (pyproject.toml says why), which needs pip 25.1 or newer.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pip>=25.1"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -e ".[all,demo,server,worker]" --group test

echo "== ruff" && "$venv/bin/python" -m ruff check .
echo "== mypy" && "$venv/bin/python" -m mypy
echo "== mkdocs"  # the documentation: a broken link, anchor or page fails (mkdocs.yml)
site="$(mktemp -d)"
# (not --quiet: it hides the warnings that --strict counts, and the build passes whatever is broken)
"$venv/bin/python" -m mkdocs build --strict --site-dir "$site" || { rm -rf "$site"; exit 1; }
rm -rf "$site"
echo "== pytest"
exec "$venv/bin/python" -m pytest -n 2 "$@"
