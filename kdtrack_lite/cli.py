"""The ``kdtrack`` command: ``kdtrack --help`` lists what it does.

Errors: a numeric argument out of its range is refused by argparse, naming the argument (the
types below: ``positive_int``, ``nonneg_float``, ...). During a command, a mistake in what the
user gave (:class:`~kdtrack_lite.fileio.UserInputError`, a file system error, or a ``ValueError`` /
``KeyError`` / ``RuntimeError`` that a ``raise`` statement of the package raised with its own
message) is printed as one line ``kdtrack <command>: error: ...`` with exit code 2. Anything else
(the same types raised inside torch or numpy included) is a bug and keeps its traceback;
``KDTRACK_TRACEBACK=1`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import linecache
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .fileio import UserInputError

TRACEBACK_ENV = "KDTRACK_TRACEBACK"


def _checked(convert: Callable[[str], float], ok: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """An argparse ``type=``: ``convert`` the text, then refuse values outside ``expected``.

    argparse prefixes the message with the argument, e.g. ``argument --steps: expected an
    integer >= 1, got -5``.
    """
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    parse.__name__ = expected
    return parse


def int_at_least(low: int) -> Callable[[str], int]:
    return _checked(int, lambda v: v >= low, f"an integer >= {low}")


positive_int = int_at_least(1)   # counts: --epochs, --steps, --threads, --frames, --max-frames
nonneg_int = int_at_least(0)     # --seed, --workers
positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "a number > 0")     # --lr, temperatures
nonneg_float = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")    # loss weights
fraction = _checked(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")                  # shares, probabilities
open_fraction = _checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]")              # IoU thresholds

# Each sub-command adds itself with ``add_command``; modules holding sub-commands are listed
# here and imported when the parser is built (so ``kdtrack --help`` stays quick to import).
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []
_COMMAND_MODULES: tuple[str, ...] = (
    "kdtrack_lite.data.samples",
    "kdtrack_lite.eval.commands",
    "kdtrack_lite.eval.room",
    "kdtrack_lite.train.commands",
    "kdtrack_lite.eval.track_commands",
    "kdtrack_lite.train.distill_commands",
    "kdtrack_lite.train.sdst_commands",
    "kdtrack_lite.tour",
)


def add_command(register: Callable[[argparse._SubParsersAction], None]):
    """Decorator for functions that add a sub-parser (with ``set_defaults(func=...)``)."""
    _COMMANDS.append(register)
    return register


@add_command
def _version(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the kdtrack_lite version")
    p.set_defaults(func=lambda args: print(__version__))


@add_command
def _env(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print versions, device, profile and data folders (JSON)")
    p.add_argument("--seed", type=nonneg_int, default=0)

    def run(args: argparse.Namespace) -> None:
        from .notebook import setup

        print(json.dumps(setup(seed=args.seed, quiet=True).summary(), indent=2))

    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdtrack",
        description="kdtrack_lite: knowledge distillation for object trackers, step by step.",
    )
    parser.add_argument("--version", action="version", version=f"kdtrack_lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        importlib.import_module(module)
    for register in _COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        args.func(args)
    except Exception as err:
        if not _is_user_error(err) or os.environ.get(TRACEBACK_ENV, "0") == "1":
            raise
        print(f"kdtrack {args.command}: error: {_message(err)}", file=sys.stderr)
        return 2
    return 0


_PACKAGE = Path(__file__).resolve().parent


def _is_user_error(err: Exception) -> bool:
    """A mistake in the input, reported in one line; not a bug, whose traceback must stay."""
    if isinstance(err, (UserInputError, OSError)):
        return True
    if isinstance(err, (ValueError, KeyError, RuntimeError)):
        # the package's own checks `raise` these with a message for the user; the same types raised
        # by torch or numpy (even on a package line) mean a bug in how the package called them
        tb = err.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return False
        source = tb.tb_frame.f_code.co_filename
        return (Path(source).resolve().is_relative_to(_PACKAGE)
                and linecache.getline(source, tb.tb_lineno).lstrip().startswith("raise"))
    return False


def _message(err: Exception) -> str:
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])  # str(KeyError) quotes its message
    if isinstance(err, OSError) and err.filename and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


if __name__ == "__main__":
    # `python -m kdtrack_lite.cli` (how torchrun launches it) runs this file as __main__; the command
    # modules register into the importable kdtrack_lite.cli, so dispatch through that one.
    from kdtrack_lite.cli import main as _main

    sys.exit(_main())
