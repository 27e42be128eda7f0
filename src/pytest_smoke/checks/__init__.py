"""The checks file: what the bundled suite checks on one deployment, in TOML.

Endpoints, the CRUD resource, the event channel, SQL for scratch rows: what cannot live in one
environment variable. ``${VAR}`` in any string is taken from the env profile (or the
environment) at load time; ``{marker}`` is left for the suite (:mod:`.templates`), which
replaces it with a value unique to each check, so that parallel runs never collide. The file is
validated against ``checks-file.schema.json`` and every documented default is filled in, so a
consumer reads ``checks.get("crud.status.read")`` without repeating a default.

Importing this package is cheap: jsonschema and jmespath are imported when a file is loaded.
"""

from __future__ import annotations

from pytest_smoke.checks.loader import load_checks
from pytest_smoke.checks.model import Checks, ChecksError

__all__ = ["Checks", "ChecksError", "load_checks"]
