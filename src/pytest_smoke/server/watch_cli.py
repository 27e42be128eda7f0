"""``smoke-gate watch``: ask a running service to watch a deployment (``POST /deployments``).

The last step of a pipeline, once the gate said PROCEED: the service then runs the profile every
N minutes for M hours (:mod:`.schedules`). The token is the service's bearer token, read from
``SMOKE_SERVER_TOKEN``; it is sent only in the ``Authorization`` header and never shown. Every
failure is a :class:`WatchFailed` with one line (the service's own when it refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Where the token comes from.
TOKEN_ENV: Final = "SMOKE_SERVER_TOKEN"
#: Seconds the service has to answer.
TIMEOUT: Final = 30.0


class WatchFailed(RuntimeError):
    """The watch was not started: one line saying why."""


def token_from(environ: Mapping[str, str]) -> str:
    """The bearer token from ``SMOKE_SERVER_TOKEN``; :class:`WatchFailed` when it is unset."""
    token = environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise WatchFailed(f"{TOKEN_ENV} is not set: the service's bearer token is needed")
    return token


def service_origin(service: str) -> str:
    """``scheme://host[:port]`` of the service URL (what messages show: no user, no password,
    no path); :class:`WatchFailed` for a URL that is not http(s)."""
    parts = urlsplit(service.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WatchFailed("--service: expected the service's URL, http(s)://HOST[:PORT]")
    try:
        port = parts.port
    except ValueError:
        raise WatchFailed("--service: the port is not a number") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def start_watch(
    service: str,
    *,
    profile: str,
    version: str,
    token: str,
    every_minutes: float = 5.0,
    for_hours: float = 2.0,
    quick: bool = False,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """``POST {service}/deployments``: the watch the service started (its 201 answer)."""
    import httpx

    origin = service_origin(service)
    base = service.strip().rstrip("/")
    body = {
        "profile": profile,
        "version": version,
        "every_minutes": every_minutes,
        "for_hours": for_hours,
        "quick": quick,
    }
    try:
        answer = httpx.post(
            f"{base}/deployments",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as error:
        raise WatchFailed(f"cannot reach the service at {origin}: {type(error).__name__}") from None
    if answer.status_code != 201:
        raise WatchFailed(
            f"the service at {origin} refused the watch ({answer.status_code}): {_detail(answer)}"
        )
    try:
        watch: dict[str, Any] = answer.json()
    except ValueError:
        raise WatchFailed(f"the service at {origin} answered 201 without JSON") from None
    return watch


def _detail(answer: Any) -> str:
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = " ".join(str(detail).split()) if detail else answer.reason_phrase or "no reason given"
    return text[:300]


def summary(watch: Mapping[str, Any]) -> str:
    """One line about a started watch, for the pipeline's log."""
    every = watch.get("every_minutes")
    line = (
        f"watching {watch.get('profile')} {watch.get('request', {}).get('version')}: "
        f"a run every {every:g} min until {watch.get('ends_at')} (watch {watch.get('id')})"
        if isinstance(every, int | float)
        else f"watching {watch.get('profile')} (watch {watch.get('id')})"
    )
    replaced = watch.get("replaced") or []
    if replaced:
        line += f"; it replaces {len(replaced)} earlier watch{'es' if len(replaced) > 1 else ''}"
    return line
