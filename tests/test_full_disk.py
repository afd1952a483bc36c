"""A full disk: one line naming the folder and "no space left on device", exit status 1, nothing
partial left, whether Python writes the output (the HTML report) or a tool the pipeline runs does
(llama-quantize, whose own message says only that it failed). The disk is a small tmpfs mounted in a
mount namespace of the command's own, so nothing else sees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import ERROR_PREFIX
from tests.project import BIN

LEFT = "--- left in the full folder ---"


def _namespace() -> list[str]:
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    pytest.skip("unshare cannot make a private mount namespace here, so no small full disk can be mounted")


def on_full_disk(folder: Path, size: str, command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, str]:
    """`command` with a tmpfs of `size` mounted at `folder` for it alone; its result and what it left there."""
    folder.mkdir()
    script = f'mount -t tmpfs -o size={size} tmpfs "$0" && "$@"; status=$?; echo "{LEFT}"; ls -A "$0"; exit $status'
    result = subprocess.run([*_namespace(), "sh", "-c", script, str(folder), *command], cwd=cwd, capture_output=True,
                            text=True)
    output, _, left = result.stdout.partition(LEFT + "\n")
    return subprocess.CompletedProcess(result.args, result.returncode, output, result.stderr), left


def assert_no_space(result: subprocess.CompletedProcess, folder: Path, left: str, writing: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"{ERROR_PREFIX}{folder}: no space left on device {writing}"), lines
    assert "Traceback" not in result.stderr
    assert left == "", f"partial output left: {left!r}"


def test_a_report_page_on_a_full_disk(built, tmp_path):
    full = tmp_path / "full"
    result, left = on_full_disk(full, "8k", [str(BIN / "modelprep"), "report", "--html", str(full / "report.html")],
                                cwd=built)
    assert_no_space(result, full, left, "writing report.html")


def test_the_quantizer_on_a_full_disk(built, tmp_path):
    full = tmp_path / "full"
    base = built / "build/tiny-llama/base/gguf/base.gguf"
    script = ("import sys; from pathlib import Path; from pipeline.errors import run_guarded; "
              "from pipeline.fileio import atomic_path; from pipeline.formats.gguf.quantize import quantize_gguf\n"
              "def quantize():\n"
              "    final = Path(sys.argv[2]) / 'q.gguf'\n"
              "    with atomic_path(final) as tmp:\n"
              "        quantize_gguf(Path(sys.argv[1]), 'F16', 'Q8_0', None, {}, tmp, final, 2)\n"
              "sys.exit(run_guarded(quantize))")
    result, left = on_full_disk(full, "1m", [sys.executable, "-c", script, str(base), str(full)], cwd=Path.cwd())
    assert_no_space(result, full, left, "")
    assert "no space left on device while llama-quantize wrote into it (exit 1)" in result.stderr
