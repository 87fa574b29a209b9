"""scripts/gpu_bench.sh stays runnable: its CPU dry run (proxy sizes, seconds) passes every
stage and writes what the GPU run would bring back, while importing neither lmms-eval nor av
nor decord (absent on the GPU machine): a sitecustomize makes any such import fail and log.
torchvision and PIL, which the GPU machine may lack too, look absent to the dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = ("lmms_eval", "av", "decord")  # must never be imported: logged
ABSENT = ("torchvision", "PIL")  # may be missing there: everything must work without them
POISON = '''
import importlib.abc, importlib.machinery, os, sys

class _Blocked(importlib.abc.Loader):
    def create_module(self, spec):
        with open(os.environ["SEATS_BLOCKED_LOG"], "a") as fh:
            fh.write(spec.name + "\\n")
        raise ImportError(f"{spec.name} is not on the GPU machine (blocked by the dry-run test)")

    def exec_module(self, module):
        pass

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ABSENT:  # as if not installed
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the dry-run test)", name=name)
        if top in BLOCKED:  # a spec (availability probes succeed), the import fails and is logged
            return importlib.machinery.ModuleSpec(name, _Blocked())
        return None

sys.meta_path.insert(0, _Finder())
'''


def _env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "poison"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"BLOCKED = {BLOCKED!r}\nABSENT = {ABSENT!r}\n" + POISON)
    env = dict(os.environ)
    env.update(PYTHON=sys.executable, SEATS_BLOCKED_LOG=str(tmp_path / "blocked.log"),
               PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    env.pop("OUT", None)
    return env


def test_the_import_poison_works(tmp_path):
    env = _env(tmp_path)
    res = subprocess.run([sys.executable, "-c", "import av"], env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "blocked by the dry-run test" in res.stderr
    assert (tmp_path / "blocked.log").read_text().split() == ["av"]
    res = subprocess.run([sys.executable, "-c", "import torchvision"], env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "hidden by the dry-run test" in res.stderr


def test_gpu_bench_dry_run(tmp_path):
    env, out = _env(tmp_path), tmp_path / "out"
    res = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_bench.sh"), "--device", "cpu", "--out", str(out)],
                         env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    blocked = tmp_path / "blocked.log"
    assert not blocked.exists(), f"imported on the way: {blocked.read_text()}"
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8  # what comes back from the GPU machine
    stems = ("bench_prefill_qwen25omni_cpu", "bench_select_cpu", "bench_prefill_qwen3omni_cpu", "bench_sharing_cpu")
    assert files == sorted(["log", "summary.md", *(f"{stem}.json" for stem in stems)])
    summary = (out / "summary.md").read_text()
    assert "CPU DRY RUN" in summary and "not GPU figures" in summary
    for stage in ("tests", "prefill_qwen25", "select", "prefill_qwen3", "sharing"):
        assert f"| {stage} | 0 |" in summary, summary
    assert "Selection alone ms" in summary  # each stage's table is in the summary, not in a file of its own
    sharing = json.loads((out / "bench_sharing_cpu.json").read_text())
    assert [(r["method"], r["questions"]) for r in sharing["results"]] == [
        (m, k) for m in ("full", "seats") for k in (1, 2, 3)]
    assert all(r["shared_tokens_per_question"] > 0 for r in sharing["results"] if r["questions"] > 1)
    assert "| seats | 0.35 | 3 |" in summary
    assert "== stage tests: exit 0" in (out / "log").read_text()
    qwen25 = json.loads((out / "bench_prefill_qwen25omni_cpu.json").read_text())
    assert qwen25["results"][0]["method"] == "full" and "profile" in qwen25
    seats = [r for r in qwen25["results"] if r["method"] == "seats"]
    for r in seats:  # selection timed apart from the layers; both FLOPs conventions' ratios
        assert r["selection_alone"]["stage1_ms"]["n"] == 1 and r["selection_alone"]["drop_steps_ms"]["median"] > 0
        assert r["flops_reduction_true"] > 1 and r["flops_reduction_true"] != r["flops_reduction"]
    qwen3 = json.loads((out / "bench_prefill_qwen3omni_cpu.json").read_text())
    assert qwen3["geometry"]["experts"] == 128 and qwen3["geometry"]["layers"] == 48
    assert {r["method"] for r in qwen3["results"]} == {"full", "seats"} and not any("error" in r for r in qwen3["results"])
    select = json.loads((out / "bench_select_cpu.json").read_text())
    assert select["hidden"] == 3584 and not any("error" in r for r in select["results"])
    assert select["stage1"]["kept_equal"] and select["stage1"]["old"]["ops"] > select["stage1"]["new"]["ops"]
    assert "Official Stage I max-min, new / old" in summary
