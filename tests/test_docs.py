"""The docs cannot drift: docs/regen.py fills every marked block by running it, and --check
names the page and block that differ from what the code prints (issue 19)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


regen = _load("docs_regen", DOCS / "regen.py")

PAGE = """# t

<!-- file: hello.txt -->
```
hello
```

<!-- python -->
```python
open("made.txt", "w").write("made by python\\n")
```

<!-- run:
cat hello.txt made.txt
echo "sweep: 2 points in 1.5 s"
-->
```console
$ cat hello.txt made.txt
hello
made by python
$ echo "sweep: 2 points in 1.5 s"
sweep: 2 points in 1.5 s
```

<!-- run-error: scnn-sim run nosuch-workload -->
```console
{error}
```
"""


@pytest.fixture(scope="module")
def error_text():
    import subprocess

    out = subprocess.run([sys.executable, "-m", "scnn_sim", "run", "nosuch-workload"],
                         capture_output=True, text=True, cwd=ROOT).stderr.strip()
    return "$ scnn-sim run nosuch-workload\n" + out


def test_page_matching_the_code_passes_check(tmp_path, error_text, capsys):
    page = tmp_path / "ok.md"
    page.write_text(PAGE.format(error=error_text))
    assert regen.main(["--check", str(page)]) == 0, capsys.readouterr().err


def test_timing_lines_may_differ(tmp_path, error_text, capsys):
    page = tmp_path / "timing.md"
    page.write_text(PAGE.format(error=error_text).replace("in 1.5 s\n```", "in 9.9 s\n```"))
    assert regen.main(["--check", str(page)]) == 0, capsys.readouterr().err


def test_differing_block_is_named(tmp_path, error_text, capsys):
    page = tmp_path / "drift.md"
    page.write_text(PAGE.format(error=error_text).replace("made by python\n$", "pasted\n$"))
    assert regen.main(["--check", str(page)]) == 1
    err = capsys.readouterr().err
    assert "drift.md: block at line 13 (<!-- run: cat hello.txt made.txt -->) differs" in err
    assert "-pasted" in err and "+made by python" in err


def test_regen_fills_blocks_and_keeps_timing_lines(tmp_path, error_text):
    page = tmp_path / "fill.md"
    empty = re.sub(r"```console\n.*?```", "```console\n```", PAGE.format(error=""),
                   flags=re.S)
    page.write_text(empty)
    assert regen.main([str(page)]) == 0
    text = page.read_text()
    assert "$ cat hello.txt made.txt\nhello\nmade by python\n" in text
    assert error_text in text
    assert regen.main(["--check", str(page)]) == 0


def test_failing_command_and_succeeding_error_are_refused(tmp_path, capsys):
    bad = tmp_path / "bad.md"
    bad.write_text("<!-- run: scnn-sim run nosuch-workload -->\n```console\n```\n")
    assert regen.main([str(bad)]) == 1
    assert "bad.md:1: `scnn-sim run nosuch-workload` exited 2, expected exit 0" in \
        capsys.readouterr().err
    bad.write_text("<!-- run-error: echo fine -->\n```console\n```\n")
    assert regen.main([str(bad)]) == 1
    assert "expected a non-zero exit" in capsys.readouterr().err
    bad.write_text("<!-- run: echo x -->\nno fence\n")
    assert regen.main([str(bad)]) == 1
    assert "must be followed by a fenced block" in capsys.readouterr().err


def test_cli_reference_has_every_command():
    hook = _load("docs_cli_reference", DOCS / "hooks" / "cli_reference.py")
    from scnn_sim.cli import COMMAND_MODULES, COMMANDS_OF

    text = hook.on_page_markdown("a\n<!-- cli-reference -->\nb", None, None, None)
    for module in COMMAND_MODULES:
        for cmd in COMMANDS_OF.get(module, (module,)):
            assert f"### scnn-sim {cmd}\n" in text
            assert f"usage: scnn-sim {cmd} " in text
    assert "<!-- cli-reference -->" not in text


def test_readme_is_the_front_door_and_examples_are_run():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    examples = 0
    for page in pages:
        parsed = regen.parse(page)
        for block in parsed.blocks:
            if block.kind in ("run", "run-error"):
                examples += sum(cmd.startswith("scnn-sim ") or " scnn-sim " in cmd
                                for cmd in block.arg.split("\n"))
        # No pasted example: every "$ scnn-sim" line of a page sits in a block regen fills.
        filled = {i for b in parsed.blocks if b.kind in ("run", "run-error", "include")
                  for i in range(b.start, b.end)}
        pasted = [i + 1 for i, line in enumerate(parsed.lines)
                  if line.startswith("$ scnn-sim") and i not in filled]
        assert not pasted, f"{page.name}: pasted example at line(s) {pasted}"
    assert examples >= 20


# Pages cheap enough to replay in the test suite (the others: `make docs-check`).
FAST_PAGES = ["docs/install.md", "docs/index.md", "docs/cli.md",
              "docs/tutorials/granularity.md", "docs/formats.md"]


@pytest.mark.parametrize("page", FAST_PAGES)
def test_fast_pages_print_what_the_code_prints(page, capsys):
    assert regen.main(["--check", "--fast", str(ROOT / page)]) == 0, capsys.readouterr().err
