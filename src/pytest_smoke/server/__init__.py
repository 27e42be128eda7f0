"""``smoke-gate serve``: the smoke gate as an HTTP service (the ``server`` extra).

Runs on demand over HTTP (``POST /runs``, document 000's ``/run-all`` and ``/test/...``, gates for
Flagger, Argo Rollouts and Azure Pipelines), each run a pytest subprocess; their history in
SQLite or PostgreSQL; Prometheus metrics; JSON logs.

Modules, one job each: :mod:`.settings` (the service's own settings), :mod:`.app` (the FastAPI
app), :mod:`.auth` (bearer tokens), :mod:`.profiles` (the env profiles it runs), :mod:`.logs`,
:mod:`.metrics`, :mod:`.runs` (shared run types), :mod:`.executor` and :mod:`.queue` (running
runs), :mod:`.store` and :mod:`.models` (the history).

Nothing here is imported by the pytest plugin: the CLI imports it inside ``serve`` and
``worker`` only, and this package's ``__init__`` imports nothing.
"""
