"""The bundled suite runs on pytest-smoke-gate's own fixtures, whatever the project defines.

The suite's tests ask for the generic names (``http_client``, ``db_session``, ...), which a
project may define too, in its conftest or through another plugin, and those would otherwise
win. Defined again here, one directory closer to the suite's tests, each name hands over the
``smoke_`` fixture of the same name, which only pytest-smoke-gate defines.
"""

from pytest_smoke.fixtures import pinned_aliases

globals().update(pinned_aliases())
