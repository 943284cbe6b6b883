"""The ``kdtrack`` command: ``kdtrack --help`` lists what it does."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence

from . import __version__

# Each sub-command adds itself with ``add_command``; modules holding sub-commands are listed
# here and imported when the parser is built (so ``kdtrack --help`` stays quick to import).
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []
_COMMAND_MODULES: tuple[str, ...] = (
    "kdtrack_lite.data.samples",
    "kdtrack_lite.eval.commands",
    "kdtrack_lite.train.commands",
    "kdtrack_lite.track.commands",
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
    p.add_argument("--seed", type=int, default=0)

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
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as err:
        print(f"kdtrack {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # `python -m kdtrack_lite.cli` (how torchrun launches it) runs this file as __main__; the command
    # modules register into the importable kdtrack_lite.cli, so dispatch through that one.
    from kdtrack_lite.cli import main as _main

    sys.exit(_main())
