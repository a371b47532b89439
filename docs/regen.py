"""Regenerate every command output, included table and figure of the docs from the code.

Pages (README.md and docs/**/*.md) mark what the code produces with HTML comments, which the
rendered page does not show:

``<!-- run: CMD -->`` (or ``<!-- run:`` then one command per line, then ``-->``)
    The fenced block after it is replaced by ``$ CMD`` and what CMD prints (stdout and stderr,
    in order). Every command must exit 0.
``<!-- run-error: CMD -->``
    The same, for a command that must exit non-zero (an error a page demonstrates).
``<!-- file: NAME -->``
    The fenced block after it is written to NAME (the page shows the file it uses).
``<!-- python -->``
    The ``python`` fenced block after it is run with the project's interpreter (the page
    shows the lines that make the files its commands use).
``<!-- include: PATH [ARGS] -->`` ... ``<!-- /include -->``
    The lines between are replaced by the file PATH of the repository (e.g. a table a
    benchmark script wrote to ``benchmarks/results/``), or by what the script PATH (``.py``)
    prints, e.g. ``docs/tables.py bench_run`` (a table of a benchmark's JSON).
``<!-- figure: NAME -> PATH -->``
    After the page's commands ran, the file NAME they wrote is copied to PATH (relative to
    the page), which the page shows as an image.
``<!-- regen: slow -->``
    The page takes long to run; ``--fast`` skips it.

Each page runs in a fresh temporary directory, its blocks in page order (a later command sees
the files earlier ones wrote), with ``scnn-sim`` and ``python`` on ``PATH`` meaning this tree's
code and interpreter, so an example runs exactly as written in a fresh directory.

    python docs/regen.py            # refill every page
    python docs/regen.py --check    # exit 1 naming the page and block that differ
    python docs/regen.py --check --fast docs/cli.md   # selected pages, skipping slow ones

Run-to-run differences allowed in a comparison: the timing patterns of :data:`MASKS` only.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Timing figures a command prints, which differ run to run: masked before comparing.
MASKS: tuple[tuple[str, str], ...] = (
    (r"\bin \d+(?:\.\d+)? s\b", "in <time> s"),
    (r"\b\d+(?:\.\d+)? s elapsed\b", "<time> s elapsed"),
    (r"\b\d+(?:\.\d+)? ms \(median", "<time> ms (median"),
)

#: Seconds one command may take before the page fails.
TIMEOUT_S = 900

_DIRECTIVE = re.compile(r"^<!--\s*(run|run-error|file|python|include|figure|regen)\s*"
                        r"(?::\s*(.*?))?\s*(-->)?\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


class RegenError(Exception):
    """A page whose directives cannot be run (malformed, or a command failed)."""


@dataclass
class Block:
    """One directive of a page and the lines it owns."""

    kind: str
    arg: str
    line: int                  # 1-based line of the directive
    start: int = 0             # first line (0-based) of the content it fills
    end: int = 0               # one past its last line
    fence: str = ""
    lang: str = ""


@dataclass
class Page:
    """A markdown page split into lines, with its directives."""

    path: Path
    lines: list[str]
    blocks: list[Block] = field(default_factory=list)
    slow: bool = False
    figures: dict[Path, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        try:
            return str(self.path.relative_to(ROOT))
        except ValueError:
            return str(self.path)


def parse(path: Path) -> Page:
    """Read ``path`` and locate every directive and the block it fills."""
    lines = path.read_text(encoding="utf-8").split("\n")
    page = Page(path, lines)
    i = 0
    in_fence = ""
    while i < len(lines):
        line = lines[i]
        fm = _FENCE.match(line)
        if in_fence:
            if fm and fm.group(1) == in_fence and not fm.group(2).strip():
                in_fence = ""
            i += 1
            continue
        if fm:
            in_fence = fm.group(1)
            i += 1
            continue
        m = _DIRECTIVE.match(line)
        if not m:
            i += 1
            continue
        kind, arg, closed = m.group(1), (m.group(2) or "").strip(), m.group(3)
        block = Block(kind, arg, i + 1)
        if not closed:  # multi-line directive: one command per line up to "-->"
            extra = []
            i += 1
            while i < len(lines) and lines[i].strip() != "-->":
                extra.append(lines[i].strip())
                i += 1
            if i == len(lines):
                raise RegenError(f"{page.name}:{block.line}: directive never closed (-->)")
            block.arg = "\n".join([a for a in [arg, *extra] if a])
        i += 1
        if kind == "regen":
            page.slow = page.slow or block.arg == "slow"
            continue
        if kind == "figure":
            page.blocks.append(block)
            continue
        if kind == "include":
            j = i
            while j < len(lines) and lines[j].strip() != "<!-- /include -->":
                j += 1
            if j == len(lines):
                raise RegenError(f"{page.name}:{block.line}: include without <!-- /include -->")
            block.start, block.end = i, j
            page.blocks.append(block)
            i = j + 1
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        fm = _FENCE.match(lines[i]) if i < len(lines) else None
        if not fm:
            raise RegenError(f"{page.name}:{block.line}: <!-- {kind} --> must be followed by "
                             "a fenced block")
        block.fence, block.lang = fm.group(1), fm.group(2).strip()
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != block.fence:
            j += 1
        if j == len(lines):
            raise RegenError(f"{page.name}:{block.line}: fenced block never closed")
        block.start, block.end = i + 1, j
        page.blocks.append(block)
        i = j + 1
    return page


def _tools(bindir: Path) -> dict[str, str]:
    """``scnn-sim`` and ``python`` on PATH: this tree's code with this interpreter."""
    bindir.mkdir()
    for name, target in (("scnn-sim", f'"{sys.executable}" -m scnn_sim'),
                         ("python", f'"{sys.executable}"')):
        script = bindir / name
        script.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "120"
    env["SCNN_SIM_NOTEBOOK_SMALL"] = "1"
    for var in ("SCNN_SIM_DEBUG", "NUMBA_NUM_THREADS"):
        env.pop(var, None)
    return env


def _run(cmd: str, cwd: Path, env: dict[str, str], page: Page, block: Block,
         expect_error: bool) -> str:
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT_S)
    out = proc.stdout.rstrip("\n").replace(str(cwd) + "/", "")
    if expect_error != (proc.returncode != 0):
        want = "a non-zero exit" if expect_error else "exit 0"
        raise RegenError(f"{page.name}:{block.line}: `{cmd}` exited {proc.returncode}, "
                         f"expected {want}:\n{out[-2000:]}")
    return out


def render(page: Page, *, verbose: bool = False) -> list[str]:
    """Run the page's directives in a fresh directory; return the page's new lines."""
    new = list(page.lines)
    fills: list[tuple[Block, list[str]]] = []
    with tempfile.TemporaryDirectory(prefix="scnn-docs-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        env = _tools(Path(tmp) / "bin")
        for block in page.blocks:
            body = page.lines[block.start:block.end]
            if block.kind in ("run", "run-error"):
                shown: list[str] = []
                for cmd in block.arg.split("\n"):
                    if verbose:
                        print(f"  {page.name}:{block.line}: $ {cmd}", file=sys.stderr)
                    out = _run(cmd, work, env, page, block, block.kind == "run-error")
                    shown.append(f"$ {cmd}")
                    if out:
                        shown.extend(out.split("\n"))
                fills.append((block, shown))
            elif block.kind == "file":
                (work / block.arg).parent.mkdir(parents=True, exist_ok=True)
                (work / block.arg).write_text("\n".join(body) + "\n", encoding="utf-8")
            elif block.kind == "python":
                script = Path(tmp) / "block.py"
                script.write_text("\n".join(body) + "\n", encoding="utf-8")
                _run(f'python "{script}"', work, env, page, block, False)
            elif block.kind == "include":
                path, *args = block.arg.split()
                src = ROOT / path
                if not src.is_file():
                    raise RegenError(f"{page.name}:{block.line}: include: no file {path}")
                if src.suffix == ".py":  # a script of the repository printing markdown
                    text = subprocess.run([sys.executable, str(src), *args], cwd=ROOT,
                                          capture_output=True, text=True, check=True).stdout
                else:
                    text = src.read_text(encoding="utf-8")
                # Blank lines around: markdown ends the HTML comment's block before the text.
                fills.append((block, ["", *text.strip("\n").split("\n"), ""]))
            elif block.kind == "figure":
                made, _, dest = (s.strip() for s in block.arg.partition("->"))
                if not (work / made).is_file() or not dest:
                    raise RegenError(f"{page.name}:{block.line}: figure: no file {made} was "
                                     "written, or no '-> PATH'")
                page.figures[page.path.parent / dest] = (work / made).read_bytes()
    for block, content in reversed(fills):
        new[block.start:block.end] = content
    return new


def mask(text: str) -> str:
    """``text`` with the run-to-run timing figures of :data:`MASKS` replaced."""
    for pattern, repl in MASKS:
        text = re.sub(pattern, repl, text)
    return text


def first_difference(page: Page, new: list[str]) -> str | None:
    """None when ``new`` equals the page up to :data:`MASKS`, else where and how it differs."""
    old_m = [mask(line) for line in page.lines]
    new_m = [mask(line) for line in new]
    if old_m == new_m:
        return None
    # Name the directive whose block differs.
    sm = difflib.SequenceMatcher(a=old_m, b=new_m, autojunk=False)
    first = next(op for op in sm.get_opcodes() if op[0] != "equal")
    at = first[1]
    owner = None
    for block in page.blocks:
        if block.kind in ("run", "run-error", "include") and block.start <= at <= block.end:
            owner = block
    diff = "\n".join(list(difflib.unified_diff(page.lines, new, "page", "code prints",
                                               lineterm="", n=1))[:40])
    where = (f"block at line {owner.line} (<!-- {owner.kind}: {owner.arg.splitlines()[0]} -->)"
             if owner else f"line {at + 1}")
    return f"{page.name}: {where} differs from what the code prints:\n{diff}"


def pages(selected: list[str]) -> list[Path]:
    """README.md and every page of docs/, or the ``selected`` ones."""
    if selected:
        return [Path(p).resolve() for p in selected]
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    """Refill (or ``--check``) the marked blocks of the pages; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pages", nargs="*", help="pages to process (default: README.md, docs/)")
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 naming each page and block that differs")
    ap.add_argument("--fast", action="store_true", help="skip pages marked slow")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each command")
    args = ap.parse_args(argv)
    status = 0
    for path in pages(args.pages):
        try:
            page = parse(path)
        except RegenError as exc:
            print(f"regen: {exc}", file=sys.stderr)
            status = 1
            continue
        if not page.blocks or (args.fast and page.slow):
            continue
        print(f"regen: {page.name} ({len(page.blocks)} blocks)", file=sys.stderr)
        try:
            new = render(page, verbose=args.verbose)
        except (RegenError, subprocess.TimeoutExpired) as exc:
            print(f"regen: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.check:
            diff = first_difference(page, new)
            if diff:
                print(f"regen: {diff}", file=sys.stderr)
                status = 1
            for dest in page.figures:  # PNG bytes may differ by fonts: made, not compared
                if not dest.is_file():
                    print(f"regen: {page.name}: figure {dest} missing "
                          "(run python docs/regen.py)", file=sys.stderr)
                    status = 1
            continue
        if new != page.lines:
            # Keep the old timing figures where only they differ: no churn in git.
            merged = new
            if len(new) == len(page.lines):
                merged = [o if mask(o) == mask(n) else n
                          for o, n in zip(page.lines, new, strict=True)]
            path.write_text("\n".join(merged), encoding="utf-8")
        for dest, data in page.figures.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.is_file() or dest.read_bytes() != data:
                dest.write_bytes(data)
    return status


if __name__ == "__main__":
    sys.exit(main())
