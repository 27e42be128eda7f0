"""Path expressions into JSON answers: JMESPath (https://jmespath.org), compiled once each."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult


@functools.lru_cache(maxsize=256)
def compile_path(expression: str) -> ParsedResult:
    """``expression`` compiled; :class:`ValueError` with jmespath's message on one line if bad."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(
            f"not a valid JMESPath expression {expression!r}: {_first_line(error)}"
        ) from None


def search(expression: str, document: Any) -> Any:
    """The value ``expression`` selects in ``document`` (None when it selects nothing).

    ``"@"`` is the document itself, ``"article.slug"`` a nested key, ``"items[0].id"`` an index.
    """
    return compile_path(expression).search(document)


def _first_line(error: Exception) -> str:
    # jmespath's messages end with the expression and a caret on lines of their own.
    line = str(error).splitlines()[0] if str(error) else type(error).__name__
    for tail in (", for expression:", ":"):
        line = line.removesuffix(tail)
    return line
