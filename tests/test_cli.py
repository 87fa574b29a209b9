"""The seats-eval console: every id listed, pipes closed early, flops picking its windows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from seats_eval.cli import main
from seats_eval.models.registry import model_ids

REPO = Path(__file__).resolve().parents[1]


def test_models_lists_every_registered_id(capsys):
    assert main(["models"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == model_ids() and "seats_qwen3omni" in listed and "fastv_om_qwen25omni" in listed


def test_a_closed_pipe_ends_quietly():
    # `seats-eval schedule ... | head`: the reader is gone before we write
    p = subprocess.Popen([sys.executable, "-m", "seats_eval.cli", "schedule", "--backbone", "qwen2.5-omni-7b",
                          "--R", "0.3", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 141 and "Traceback" not in err, err


def test_flops_picks_the_windows_that_fit_with_the_prompt(capsys):
    assert main(["flops", "--tokens", "10816", "--method", "seats", "--R", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["windows"] == 31 and out["text_tokens"] == 10816 - 31 * 338
    assert main(["flops", "--tokens", "338", "--windows", "1"]) == 2  # no room for the prompt
