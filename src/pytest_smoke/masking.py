"""Keep secret values out of everything a run prints or writes.

Every secret the run knows (passwords in URLs, tokens, client secrets, values fetched from a
vault) is registered with the run's :class:`Masker`. The plugin scrubs each test report before
it leaves the process that ran the test, so the terminal, JUnit, HTML and JSON reports, which
are all built from those reports, never see the value; log records are scrubbed as they are
made. A secret is matched in its raw, URL-encoded and base64 forms.
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
        return self._pattern.sub(MASK, text)

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
