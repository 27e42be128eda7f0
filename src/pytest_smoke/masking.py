"""Keep secret values out of everything a run prints or writes.

Every secret the run knows (passwords in URLs, tokens, client secrets, values fetched from a
vault) is registered with the run's :class:`Masker`. The plugin scrubs each test report before
it leaves the process that ran the test, so the terminal, JUnit, HTML and JSON reports, which
are all built from those reports, never see the value; log records are scrubbed as they are
made. A secret is matched in its raw, URL-encoded and base64 forms, and so are the two ends of
one that pytest shortened for display (``'eyJhbGci...c2lnbmF0dXJl'``: ``saferepr`` keeps the
start and the end of a long value around ``...``).
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit

MASK: Final = "***"
#: Values shorter than this are not registered: masking "a" or "1" would shred every report.
MIN_SECRET_LENGTH: Final = 4
#: Where pytest's ``saferepr`` cut a long value; what stands on either side may be a secret's end.
_ELLIPSIS: Final = "..."


class Masker:
    """Remembers secret values and replaces every known form of them with ``***``."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self._forms)

    def add(self, secret: str | None) -> None:
        """Register ``secret``; values under :data:`MIN_SECRET_LENGTH` characters are ignored."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        encoded = secret.encode()
        for codec in (base64.b64encode, base64.urlsafe_b64encode):
            text = codec(encoded).decode()
            forms.update({text, text.rstrip("=")})
        new = {form for form in forms if len(form) >= MIN_SECRET_LENGTH} - self._forms
        if new:
            self._forms |= new
            longest_first = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(form) for form in longest_first))

    def add_url(self, url: str | None) -> None:
        """Register the password of a URL, if it has one."""
        if url and "://" in url:
            try:
                self.add(urlsplit(url).password)
            except ValueError:  # an invalid URL was already refused by the settings
                return

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret form replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        scrubbed = self._pattern.sub(MASK, text)
        return _scrub_cut_ends(scrubbed, self._forms) if _ELLIPSIS in scrubbed else scrubbed

    def scrub_value(self, value: Any) -> Any:
        """Scrub strings inside tuples, lists and dicts; leave other values as they are."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, tuple):
            return tuple(self.scrub_value(item) for item in value)
        if isinstance(value, list):
            return [self.scrub_value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub_value(item) for key, item in value.items()}
        return value


def _scrub_cut_ends(text: str, forms: set[str]) -> str:
    """``text`` with a secret's start just before ``...``, and its end just after, masked.

    Only the few places pytest marked as cut are looked at, so this stays cheap; an end of at
    least :data:`MIN_SECRET_LENGTH` characters counts.
    """
    spans: list[tuple[int, int]] = []
    cut = text.find(_ELLIPSIS)
    while cut != -1:
        after = cut + len(_ELLIPSIS)
        for form in forms:
            head = _shared_start(text[:cut], form)
            if head:
                spans.append((cut - head, cut))
            tail = _shared_end(text[after:], form)
            if tail:
                spans.append((after, after + tail))
        cut = text.find(_ELLIPSIS, after)
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    for begin, end in reversed(merged):
        text = text[:begin] + MASK + text[end:]
    return text


def _shared_start(before: str, form: str) -> int:
    """How many characters ``before`` ends with that ``form`` starts with (0 if too few)."""
    probe = form[:MIN_SECRET_LENGTH]
    at = before.find(probe, max(0, len(before) - len(form)))
    while at != -1:  # the earliest candidate that holds is the longest
        if form.startswith(before[at:]):
            return len(before) - at
        at = before.find(probe, at + 1)
    return 0


def _shared_end(after: str, form: str) -> int:
    """How many characters ``after`` starts with that ``form`` ends with (0 if too few)."""
    probe = after[:MIN_SECRET_LENGTH]
    if len(probe) < MIN_SECRET_LENGTH:
        return 0
    at = form.find(probe)
    while at != -1:  # the earliest candidate that holds is the longest
        if after.startswith(form[at:]):
            return len(form) - at
        at = form.find(probe, at + 1)
    return 0


class MaskingLogRecordFactory:
    """A log record factory that scrubs each record's message as it is made.

    Installed only once a secret is registered; it wraps whatever factory was in place.
    """

    def __init__(self, masker: Masker, wrapped: Any) -> None:
        self.masker = masker
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.wrapped(*args, **kwargs)
        if self.masker:
            message = record.getMessage()
            scrubbed = self.masker.scrub(message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return record


def install_log_masking(masker: Masker) -> MaskingLogRecordFactory:
    """Make every log record scrubbed by ``masker``; returns the factory for uninstalling."""
    factory = MaskingLogRecordFactory(masker, logging.getLogRecordFactory())
    logging.setLogRecordFactory(factory)
    return factory


def uninstall_log_masking(factory: MaskingLogRecordFactory) -> None:
    if logging.getLogRecordFactory() is factory:
        logging.setLogRecordFactory(factory.wrapped)
