"""Issue 19's small findings of the new-user trial, one test each (written before the fix)."""

from __future__ import annotations

import io

from conftest import TINY_WORKLOAD

from scnn_sim import cli


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Progress: a bar only on a terminal; one line per point in a log (no "\r" frames).


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sweep_progress_bar_only_on_a_terminal():
    from scnn_sim.commands.sweep import progress_mode

    assert progress_mode(False, _Tty()) is True
    assert progress_mode(False, io.StringIO()) == "lines"
    assert progress_mode(True, _Tty()) is False


def test_sweep_into_a_log_writes_one_line_per_point(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY_WORKLOAD)
    (tmp_path / "s.yaml").write_text("workloads: [tiny.yaml]\nvary: {pe_array.rows: [2, 4]}\n")
    code, _, err = _cli(["sweep", "s.yaml", "-o", "s.sqlite", "--workers", "1"], capsys)
    assert code == 0, err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("sweep: point ")]
    assert [line.split()[2] for line in lines] == ["1/2", "2/2"]
    assert all(line.endswith(" ok") for line in lines)
