"""``python -m pytest_smoke``: the ``smoke-gate`` command under another name.

``python -m pytest_smoke merge FILES...`` predates the ``smoke-gate`` script and keeps working:
both are :func:`pytest_smoke.cli.main`, with the same commands, help and exit statuses.
"""

from __future__ import annotations

import sys

from pytest_smoke.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_name="python -m pytest_smoke"))
