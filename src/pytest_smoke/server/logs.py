"""The service's log: one JSON object a line on stderr (python-json-logger).

uvicorn's own loggers go through the same handler. Every line about a run carries its
``run_id`` (:func:`run_log`); lines hold ids, profiles, states and verdicts, never a setting's
value: a run's error text was masked by the run's masker before it reached the service.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

from pythonjsonlogger.json import JsonFormatter

#: The service's logger; uvicorn's are ``uvicorn``, ``uvicorn.error``, ``uvicorn.access``.
LOGGER_NAME: Final = "pytest_smoke.server"
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"

log = logging.getLogger(LOGGER_NAME)


def configure(level: str = "INFO") -> None:
    """Send the service's and uvicorn's records to stderr as JSON lines, at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(_FORMAT, rename_fields={"levelname": "level", "name": "logger"})
    )
    for name in (LOGGER_NAME, "uvicorn", "uvicorn.access", "dramatiq", "apscheduler"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    # APScheduler says "Running job" at each run, which the service logs in its own words
    logging.getLogger("apscheduler").setLevel(max(logging.getLevelName(level), logging.WARNING))
    # uvicorn.error propagates to uvicorn: it needs no handler of its own.
    logging.getLogger("uvicorn.error").handlers.clear()
    logging.getLogger("uvicorn.error").propagate = True


def run_log(run_id: str, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``message`` about run ``run_id``, with ``fields`` as JSON keys."""
    log.log(level, message, extra={"run_id": run_id, **fields})
