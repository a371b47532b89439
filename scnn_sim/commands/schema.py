"""``scnn-sim schema``: print the JSON Schema of an input or output kind, or write them all."""

from __future__ import annotations

import argparse
import sys

from scnn_sim.results.schemas import KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema", help="print the JSON Schema of an input file or JSON result",
        description="Print the JSON Schema (draft 2020-12) of one kind of file, generated from "
        "the model that validates it (inputs) or describes it (outputs). Kinds: "
        + "; ".join(f"{k}: {title.removeprefix('scnn-sim ')}" for k, (title, _, _)
                    in KINDS.items()) + ".")
    p.add_argument("kind", nargs="?", choices=list(KINDS), metavar="KIND",
                   help=f"one of {', '.join(KINDS)}")
    p.add_argument("--write", nargs="?", const=True, default=None, metavar="DIR",
                   help="write every kind as DIR/KIND.json instead (default DIR: the "
                   "package's data/schemas, the files it ships)")
    p.set_defaults(func=main, parser=p)


def main(args: argparse.Namespace) -> int:
    from scnn_sim.results.schemas import schema_text, write_schemas

    if args.write is not None:
        # write_schemas checks DIR (and every file in it) before writing anything.
        for path in write_schemas(None if args.write is True else args.write):
            print(f"wrote {path}", file=sys.stderr)
        return 0
    if args.kind is None:
        args.parser.error("give KIND or --write")
    sys.stdout.write(schema_text(args.kind))
    return 0
