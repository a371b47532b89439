"""MkDocs hook: the command-line reference, generated from ``scnn_sim.cli``'s parser.

A page containing ``<!-- cli-reference -->`` gets, in its place, the ``--help`` of
``scnn-sim`` and of every sub-command, formatted by argparse itself at build time, so the
reference cannot drift from the options the code accepts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MARKER = "<!-- cli-reference -->"
ROOT = Path(__file__).resolve().parents[2]


def cli_reference() -> str:
    """Markdown: one section per sub-command with its ``--help`` text."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help at the terminal width
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from scnn_sim.cli import build_parser

    parser = build_parser()
    parts = ["### scnn-sim", "", "```text", parser.format_help().rstrip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, cmd in sub.choices.items():
        parts += [f"### scnn-sim {name}", "", "```text", cmd.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - mkdocs API
    """Replace the marker of the CLI page by the generated reference."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_reference())
    return markdown
