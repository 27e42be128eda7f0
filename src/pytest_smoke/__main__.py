"""``python -m pytest_smoke``: the commands that run outside pytest.

``merge``: one verdict from the JSON reports of a split run (:mod:`pytest_smoke.merge`). Usage
errors (no files, an unknown option) exit with 4, like bad input and like pytest's own.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

from pytest_smoke.merge import EXIT_INPUT_ERROR, run

if TYPE_CHECKING:
    from collections.abc import Sequence

_MERGE_EPILOG = """\
The shards must not share a test and must have the same gate policy and profile.
The verdict block is printed as a run prints it; -o writes the merged report (the same
JSON schema). The Markdown summary is appended to $GITHUB_STEP_SUMMARY when that is set,
as a run does.

exit status: 0 PROCEED or MONITOR, 10 INVESTIGATE, 11 ROLLBACK (the gate's);
4 a missing, unreadable or invalid report, or shards that do not belong together;
3 the merge itself failed (never 0)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m pytest_smoke", description="pytest-smoke-gate tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    merge = commands.add_parser(
        "merge",
        help="merge the JSON reports of a split run into one verdict",
        description="One smoke gate verdict from the --smoke-report-json reports of shards.",
        epilog=_MERGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    merge.add_argument("files", nargs="+", metavar="FILE", help="a shard's JSON report")
    merge.add_argument("-o", "--output", metavar="PATH", help="write the merged JSON report")
    merge.add_argument(
        "--github-step-summary",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="append the Markdown summary to $GITHUB_STEP_SUMMARY "
        "(default: when that variable is set)",
    )
    args = parser.parse_args(argv)
    return run(args.files, output=args.output, github_step_summary=args.github_step_summary)


if __name__ == "__main__":
    sys.exit(main())
