"""docs/gpu-hours.md shows what scripts/gpu_hours.py computes from the paper's tables (the
arithmetic and the numbers cannot drift apart)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT.parent / "shared" / "paper" / "tables"


@pytest.mark.slow
@pytest.mark.skipif(not PAPER.is_dir(), reason="the paper's tables (../shared/paper/tables) are not here")
def test_gpu_hours_page_is_the_script_output():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_hours.py"), str(PAPER)], capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    page = (ROOT / "docs" / "gpu-hours.md").read_text()
    block = page.split("<!-- gpu_hours.py output -->\n")[1].split("<!-- end of gpu_hours.py output -->")[0]
    assert block.strip() == out.strip()
    assert "**Table 3 total**" in block and "**Table 8 total**" in block
