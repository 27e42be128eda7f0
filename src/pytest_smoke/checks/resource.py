"""One REST resource of the deployment, driven by the ``[crud]`` table of the checks file.

Every convention comes from that table, its defaults filled in by the loader: the collection
path and the item template (``/api/articles/{id}``), the method of each step, the request
envelope, where the id, the object and the listed items are in the answers (JMESPath), the
statuses each step may answer, and the pagination style. Nothing here assumes a REST habit of
its own.

Every request goes through :func:`send` (GET and HEAD follow redirects; an unsafe request never
does, and a redirect answering it is a failure naming where it points) and is checked by
:func:`check`, which fails with one line: method, path, status and the first line of the body.

Everything :class:`Resource` creates goes on its :class:`~pytest_smoke.checks.ledger.Ledger`
and comes off when a delete of it succeeded; :meth:`Resource.created` deletes in a ``finally``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from pytest_smoke.checks.ledger import Ledger
from pytest_smoke.checks.paths import search
from pytest_smoke.checks.templates import MARKER_PATTERN, fill, marker_age, new_marker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection

    import httpx

#: Methods that may follow a redirect: re-sending them elsewhere changes nothing.
SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
#: Page length the sweep asks for.
SWEEP_PAGE_SIZE: Final = 50
#: How much of a body a failure line shows.
_BODY_CHARS: Final = 160


class UnexpectedAnswer(AssertionError):
    """The deployment answered something the checks file says it must not; one line."""


@dataclass(frozen=True)
class Created:
    """A resource a check created: where it is, its id, the object the create answered."""

    url: str  #: the full URL, as the ledger and the left-behind report name it
    path: str  #: the item path the requests use (``crud.item`` filled in)
    id: Any
    object: Any
    marker: str


@dataclass(frozen=True)
class Page:
    """One page of the collection: its items, and the total when ``crud.list.total`` says."""

    items: list[Any]
    total: int | None


@dataclass(frozen=True)
class SweepResult:
    """What a sweep saw and did."""

    pages: int  #: list pages read
    listed: int  #: items seen on them
    stale: int  #: items carrying a marker older than the threshold
    removed: int  #: of those, deleted


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; GET and HEAD follow redirects, every other method never does."""
    return await client.request(method, url, follow_redirects=method in SAFE_METHODS, **kwargs)


def check(response: httpx.Response, statuses: Collection[int], *, key: str | None = None) -> None:
    """Fail with one line unless ``response`` answered one of ``statuses``.

    A redirect answering an unsafe request is always a failure: sending the body again to the
    target is not ours to decide. ``key`` names the checks-file key that holds the path.
    """
    __tracebackhide__ = True  # a failure points at the check's line, not into this module
    method, path, status = (
        response.request.method,
        _path(response.request.url),
        response.status_code,
    )
    if method not in SAFE_METHODS and response.is_redirect:
        target = _shown_target(response)
        where = key or "the path in the checks file"
        raise UnexpectedAnswer(
            f"{method} {path} answered {status} -> {target}: set {where} to the target"
        )
    if status not in statuses:
        raise UnexpectedAnswer(
            f"{method} {path} answered {status}, expected {statuses_text(statuses)}: "
            f"{first_line(response)}"
        )


async def expect(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    statuses: Collection[int],
    *,
    key: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """:func:`send` then :func:`check`: the answer, known to have one of ``statuses``."""
    __tracebackhide__ = True
    response = await send(client, method, url, **kwargs)
    check(response, statuses, key=key)
    return response


def statuses_text(statuses: Collection[int]) -> str:
    """``200``, ``401 or 403``, ``200, 202 or 204``; ``2xx`` for the whole class."""
    wanted = set(statuses)
    if wanted == set(range(200, 300)):
        return "2xx"
    ordered = [str(status) for status in sorted(wanted)]
    if len(ordered) < 2:
        return "".join(ordered) or "nothing"
    return f"{', '.join(ordered[:-1])} or {ordered[-1]}"


def first_line(response: httpx.Response) -> str:
    """The first non-blank line of the body, shortened; ``(empty body)`` when there is none."""
    try:
        text = response.text
    except Exception:  # an undecodable body is still an answer worth naming
        return f"({len(response.content)} bytes)"
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not line:
        return "(empty body)"
    return line if len(line) <= _BODY_CHARS else line[: _BODY_CHARS - 3] + "..."


def holds(actual: Any, expected: Any) -> bool:
    """Whether ``actual`` shows ``expected``: every key of a table (at any depth) with its
    value; other keys of ``actual`` may be there too. Numbers compare by value (1 == 1.0)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and holds(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(holds(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def document(response: httpx.Response) -> Any:
    """The JSON body of ``response``, or ``None`` when it has none."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


class Resource:
    """The checks file's CRUD resource on ``client``, each step as the ``crud`` table says.

    ``crud`` is the table after defaults (``checks.section("crud")``); ``headers`` go with
    every request (the auth headers); ``ledger`` receives every resource created here.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        crud: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.client = client
        self.crud = crud
        self.headers = dict(headers or {})
        self.ledger = ledger if ledger is not None else Ledger()

    # --- the steps ----------------------------------------------------------------------------

    async def create(self, marker: str) -> Created:
        """Create the resource from ``crud.create`` with ``{marker}`` filled in.

        On the ledger as soon as the create is answered: under the item's URL, or under the
        collection's URL and the marker when the answer does not hold the id at ``crud.id``.
        """
        __tracebackhide__ = True
        collection = fill(self.crud["collection"], marker=marker)
        response = await send(
            self.client,
            self.crud["methods"]["create"],
            collection,
            json=self.body("create", marker),
            headers=self.headers,
        )
        made = self._track(response, marker) if response.is_success else None
        try:
            check(response, self.statuses("create"), key="crud.collection")
        except UnexpectedAnswer:
            if made is not None:  # a 2xx the checks file does not list: it may exist all the same
                await self.remove(made)
            raise
        if made is None:
            unnamed = f"{self.url(collection)} [{marker}]"
            self.ledger.created(unnamed)
            self.ledger.not_removed(unnamed, f"no id at crud.id {self.crud['id']!r}")
            raise UnexpectedAnswer(
                f"{response.request.method} {_path(response.request.url)} answered "
                f"{response.status_code} without an id at crud.id {self.crud['id']!r}: "
                f"{first_line(response)}"
            )
        return made

    async def refuse_invalid(self, marker: str) -> httpx.Response:
        """Send ``crud.invalid`` as a create; it must answer one of ``crud.status.invalid``.

        Should the service accept it, what it created is deleted again before the failure.
        """
        __tracebackhide__ = True
        response = await send(
            self.client,
            self.crud["methods"]["create"],
            fill(self.crud["collection"], marker=marker),
            json=self.body("invalid", marker),
            headers=self.headers,
        )
        made = self._track(response, marker) if response.is_success else None
        if made is not None:
            await self.remove(made)
        check(response, self.statuses("invalid"), key="crud.collection")
        return response

    async def read(self, created: Created) -> Any:
        """GET the item; its object (``crud.object``)."""
        __tracebackhide__ = True
        response = await expect(
            self.client,
            "GET",
            created.path,
            self.statuses("read"),
            key="crud.item",
            headers=self.headers,
        )
        return self.object_of(document(response))

    async def update(self, created: Created) -> Any:
        """Send ``crud.update`` with its method; the updated object (read back if not answered)."""
        __tracebackhide__ = True
        response = await expect(
            self.client,
            self.crud["methods"]["update"],
            created.path,
            self.statuses("update"),
            key="crud.item",
            json=self.body("update", created.marker),
            headers=self.headers,
        )
        answered = self.object_of(document(response))
        return answered if answered is not None else await self.read(created)

    async def delete(self, created: Created) -> None:
        """Delete the item; its status must be one of ``crud.status.delete``."""
        __tracebackhide__ = True
        method = self.crud["methods"]["delete"]
        response = await send(self.client, method, created.path, headers=self.headers)
        if response.status_code not in self.statuses("delete"):
            self.ledger.not_removed(created.url, f"{method} -> {response.status_code}")
        check(response, self.statuses("delete"), key="crud.item")
        self.ledger.removed(created.url)

    async def assert_gone(self, created: Created) -> None:
        """Reading the item answers one of ``crud.status.gone``."""
        __tracebackhide__ = True
        await expect(
            self.client,
            "GET",
            created.path,
            self.statuses("gone"),
            key="crud.item",
            headers=self.headers,
        )

    async def remove(self, created: Created) -> bool:
        """Delete quietly, for cleanup: never raises; whether it is off the ledger now."""
        return await self._remove(created.url, created.path)

    @contextlib.asynccontextmanager
    async def created(self, marker: str | None = None) -> AsyncIterator[Created]:
        """Create the resource; delete it afterwards (unless the check did), whatever happens.

        A delete that fails leaves the resource on the ledger, named with what it answered.
        """
        __tracebackhide__ = True
        made = await self.create(marker or new_marker())
        try:
            yield made
        finally:
            if made.url in self.ledger:
                await self.remove(made)

    # --- listing ------------------------------------------------------------------------------

    async def list_page(
        self, number: int, size: int, params: Mapping[str, Any] | None = None
    ) -> Page:
        """Page ``number`` (from 0) of ``size`` items, as ``crud.list.pagination`` asks for it.

        ``params`` are added to the query (a filter). With pagination ``none`` the collection
        is one page, whatever ``number`` and ``size``.
        """
        __tracebackhide__ = True
        listing = self.crud["list"]
        query = {**self.page_params(number, size), **(params or {})}
        response = await expect(
            self.client,
            "GET",
            fill(self.crud["collection"], marker=""),
            self.statuses("read"),
            key="crud.collection",
            params=query,
            headers=self.headers,
        )
        answer = document(response)
        items = search(listing["items"], answer)
        if not isinstance(items, list):
            raise UnexpectedAnswer(
                f"GET {_path(response.request.url)} answered {response.status_code} without a "
                f"list at crud.list.items {listing['items']!r}: {first_line(response)}"
            )
        total = search(listing["total"], answer) if listing.get("total") else None
        return Page(items, total if isinstance(total, int) else None)

    def page_params(self, number: int, size: int) -> dict[str, Any]:
        """The query parameters of page ``number`` (from 0) of ``size`` items."""
        listing = self.crud["list"]
        style = listing["pagination"]
        if style == "none":
            return {}
        if style == "page_size":
            first = listing["first_page"]
            return {listing["limit_param"]: size, listing["page_param"]: first + number}
        return {listing["limit_param"]: size, listing["offset_param"]: number * size}

    async def sweep(
        self, *, older_than: float, max_pages: int, page_size: int = SWEEP_PAGE_SIZE
    ) -> SweepResult:
        """Delete the listed items whose ``crud.marker_field`` holds a marker older than
        ``older_than`` seconds: what runs that were killed left behind.

        Reads at most ``max_pages`` pages, all before deleting anything (deleting shifts the
        pages). Each deletion goes through the ledger, so one that fails is reported.
        """
        __tracebackhide__ = True
        stale: list[tuple[Any, str]] = []
        pages = listed = 0
        previous: list[Any] | None = None
        for number in range(max_pages):
            page = await self.list_page(number, page_size)
            pages += 1
            if not page.items or page.items == previous:
                break  # the end, or an API that ignores the page parameters
            listed += len(page.items)
            for item in page.items:
                marker = self.marker_in(item)
                if marker is not None and (marker_age(marker) or 0.0) >= older_than:
                    stale.append((item, marker))
            done = page.total is not None and listed >= page.total
            if done or self.crud["list"]["pagination"] == "none":
                break
            previous = page.items
        removed = 0
        for item, marker in stale:
            path = self.item_path(self.id_in(item), marker)
            url = self.url(path)
            self.ledger.created(url)
            removed += await self._remove(url, path)
        return SweepResult(pages=pages, listed=listed, stale=len(stale), removed=removed)

    # --- reading the table and the answers -----------------------------------------------------

    def statuses(self, step: str) -> frozenset[int]:
        """The statuses ``crud.status.<step>`` allows."""
        return frozenset(self.crud["status"][step])

    def body(self, step: str, marker: str) -> Any:
        """``crud.<step>`` (create, update, invalid) filled in, inside ``crud.envelope`` if set."""
        body = fill(self.crud[step], marker=marker)
        envelope = self.crud.get("envelope")
        return {envelope: body} if envelope else body

    def item_path(self, identifier: Any, marker: str) -> str:
        """``crud.item`` for ``identifier`` (percent-encoded: an id is one path segment)."""
        path: str = fill(self.crud["item"], id=quote(str(identifier), safe=""), marker=marker)
        return path

    def url(self, path: str) -> str:
        """The full URL of ``path`` on the client's base URL."""
        return str(self.client.build_request("GET", path).url)

    def object_of(self, answer: Any) -> Any:
        """The resource object in an answer (``crud.object``)."""
        return search(self.crud["object"], answer)

    def marker_in(self, item: Any) -> str | None:
        """The marker an item carries at ``crud.marker_field``, if any."""
        value = search(self.crud["marker_field"], item)
        match = MARKER_PATTERN.search(value) if isinstance(value, str) else None
        return match.group(0) if match else None

    def id_in(self, item: Any) -> Any:
        """The id of a listed item: ``crud.id`` read inside the object (``crud.object``)."""
        __tracebackhide__ = True
        id_path, object_path = self.crud["id"], self.crud["object"]
        if object_path not in ("", "@") and id_path.startswith(f"{object_path}."):
            id_path = id_path[len(object_path) + 1 :]
        value = search(id_path, item)
        if value is None or value == "":
            raise UnexpectedAnswer(
                f"a listed item has no id at {id_path!r} (crud.id {self.crud['id']!r} read "
                f"inside crud.object {object_path!r}): {_short(item)}"
            )
        return value

    def _track(self, response: httpx.Response, marker: str) -> Created | None:
        """The resource a create answer describes, now on the ledger; None without an id."""
        answer = document(response)
        identifier = search(self.crud["id"], answer)
        if identifier is None or identifier == "":
            return None
        path = self.item_path(identifier, marker)
        self.ledger.created(self.url(path))
        return Created(self.url(path), path, identifier, self.object_of(answer), marker)

    async def _remove(self, url: str, path: str) -> bool:
        method = self.crud["methods"]["delete"]
        try:
            response = await send(self.client, method, path, headers=self.headers)
        except Exception as error:  # whatever it was, the resource stays, named with it
            self.ledger.not_removed(url, f"{method} -> {type(error).__name__}")
            return False
        if response.status_code in self.statuses("delete") | self.statuses("gone"):
            self.ledger.removed(url)
            return True
        self.ledger.not_removed(url, f"{method} -> {response.status_code}")
        return False


def _path(url: httpx.URL) -> str:
    return url.raw_path.decode("ascii", "replace")


def _shown_target(response: httpx.Response) -> str:
    """The redirect's target: its path when on the same host, else the whole URL."""
    location = response.headers.get("location", "")
    target = response.request.url.join(location)
    same_origin = (target.scheme, target.host, target.port) == (
        response.request.url.scheme,
        response.request.url.host,
        response.request.url.port,
    )
    return _path(target) if same_origin else str(target)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _BODY_CHARS else text[: _BODY_CHARS - 3] + "..."
