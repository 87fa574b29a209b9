"""The wheel is self-contained: built from a copy of the checkout's files (git's view: tracked
and new, not ignored; so no stale build/ folder leaks in), it carries every file of tasks/,
model_configs/ (backbone configs, sweep specs and partials, regression baselines),
results/paper/ and the trained tiny models, and both entry points; unpacked into a folder
outside any checkout and imported from an empty working directory, seats_eval finds its
tasks, a backbone config, a sweep spec, the paper's numbers and the packaged tiny model
there (seats_eval/io/resources.py). Marked slow: 20-40 s (setuptools builds the wheel); run it
with `make test PYTEST_ARGS="-m slow tests/test_wheel.py"`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"tasks": "seats_eval/_resources/tasks", "model_configs": "seats_eval/_resources/model_configs",
           "results/paper": "seats_eval/_resources/results/paper",
           "seats_eval/data/tiny_trained": "seats_eval/data/tiny_trained"}


def _source_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout (the files to build from are git's tracked and new ones)")
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                         capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(dist), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = dist.glob("seats_eval-*.whl")
    return whl


def test_the_wheel_carries_the_data_and_entry_points(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = _source_files()
    for src, dest in SHIPPED.items():
        expected = {dest + f[len(src):] for f in files if f.startswith(src + "/") and "__pycache__" not in f
                    and not f.endswith(".gitignore")}
        assert expected, src
        assert expected <= names, (src, sorted(expected - names)[:5])
    # the kinds the brief names, spelled out
    for must in ("seats_eval/_resources/tasks/fixture_where/seats_fixture_where_ci.yaml",
                 "seats_eval/_resources/tasks/fixture_where/utils.py",
                 "seats_eval/_resources/tasks/fixtures/where_ci/test-00000-of-00001.parquet",
                 "seats_eval/_resources/model_configs/tiny_trained.yaml",
                 "seats_eval/_resources/model_configs/sweeps/table3_tiny.yaml",
                 "seats_eval/_resources/model_configs/sweeps/partials/tiny_trained.yaml",
                 "seats_eval/_resources/model_configs/sweeps/baselines/table3_tiny.json",
                 "seats_eval/_resources/results/paper/table3_qwen25omni.csv",
                 "seats_eval/data/tiny_trained/qwen2.5-omni/model.safetensors",
                 "seats_eval/data/tiny_trained/qwen3-omni/model.safetensors",
                 "seats_eval/io/resources.py", "seats_eval/commands/tasks_path.py"):
        assert must in names, must
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "seats-eval = seats_eval.cli:main" in text
    assert "[lmms_eval.models]" in text and "seats_eval = seats_eval.models.registry:manifests" in text
    meta = zipfile.ZipFile(wheel).read(entry.replace("entry_points.txt", "METADATA")).decode()
    assert "Requires-Dist: av" in meta and "Requires-Dist: decord; extra == \"decord\"" in meta
    assert not any(line.startswith("Requires-Dist: decord") and "extra" not in line for line in meta.splitlines())


def test_the_unpacked_wheel_finds_its_data_from_an_empty_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "empty"
    work.mkdir()
    probe = """
import json, seats_eval
from seats_eval.io import resources
from seats_eval.backbones.config import load_backbone_config
from seats_eval.sweep.spec import load_spec
from seats_eval.tables.table import read_paper
sweep = load_spec("table3_tiny", tasks="fixtures")
print(json.dumps({"package": seats_eval.__file__, "project": str(resources.project_dir()),
    "tasks": str(resources.tasks_dir()), "pretrained": load_backbone_config("tiny-trained").pretrained,
    "spec": str(sweep.spec_path), "spec_pretrained": sweep.jobs[0].model_args["pretrained"], "out": str(sweep.out),
    "paper_rows": len(read_paper("table3"))}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SEATS_EVAL_HOME")}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["package"] == str(site / "seats_eval" / "__init__.py")
    assert got["project"] == "None"
    assert got["tasks"] == str(site / "seats_eval" / "_resources" / "tasks")
    assert got["pretrained"] == str(site / "seats_eval" / "data" / "tiny_trained" / "qwen2.5-omni")
    assert got["spec"] == str(site / "seats_eval" / "_resources" / "model_configs" / "sweeps" / "table3_tiny.yaml")
    assert got["spec_pretrained"] == got["pretrained"]
    assert got["out"].startswith(str(work))  # outputs under the working directory, not in the package
    assert got["paper_rows"] > 0
    tasks = subprocess.run([sys.executable, "-m", "seats_eval.cli", "tasks-path"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert tasks.returncode == 0 and tasks.stdout.strip() == got["tasks"], tasks.stderr
    # and runs: lmms-eval through `seats-eval eval`, the packaged task and trained tiny model,
    # no --include_path (eval adds the packaged task folder itself)
    run = subprocess.run([sys.executable, "-m", "seats_eval.cli", "eval", "--model", "seats_qwen25omni",
                          "--model_args", f"pretrained={got['pretrained']},R=0.25", "--tasks", "seats_fixture_where_ci",
                          "--limit", "2", "--batch_size", "1", "--output_path", "out"],
                         cwd=work, env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "seats-eval eval: seats_fixture_where_ci:" in run.stdout and list((work / "out").rglob("*_results.json"))
