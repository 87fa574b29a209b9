"""Where seats-eval finds its data (seats_eval/io/resources.py), in each of the three places the
rule allows: a checkout, $SEATS_EVAL_HOME, and an installed package (a fake package folder
here; tests/test_wheel.py runs the real wheel). Also the commands that use it: `seats-eval
tasks-path`, the include path `seats-eval eval` adds, and a demo that fails exits non-zero
instead of printing dashes."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from seats_eval.backbones.config import load_backbone_config
from seats_eval.cli import main
from seats_eval.commands import demo
from seats_eval.commands.eval import with_include_path
from seats_eval.errors import ConfigError
from seats_eval.io import resources

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_uses_its_own_folders(monkeypatch, tmp_path):
    monkeypatch.delenv(resources.HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # the working directory plays no part
    assert resources.project_dir() == REPO and resources.work_dir() == REPO
    assert resources.tasks_dir() == REPO / "tasks"
    assert resources.resource("sweeps") == REPO / "model_configs" / "sweeps"
    assert resources.resource("paper") == REPO / "results" / "paper"
    assert resources.resource("tiny_trained") == REPO / "seats_eval" / "data" / "tiny_trained"
    # a committed model named project-relative in a backbone config loads from any folder
    pretrained = Path(load_backbone_config("tiny-trained").pretrained)
    assert pretrained == REPO / "seats_eval" / "data" / "tiny_trained" / "qwen2.5-omni"
    assert load_backbone_config("qwen2.5-omni-7b").pretrained == "Qwen/Qwen2.5-Omni-7B"  # hub ids untouched
    with pytest.raises(ConfigError, match="unknown resource 'nope'"):
        resources.resource("nope")


def test_seats_eval_home_points_elsewhere(monkeypatch, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(REPO / "model_configs", home / "model_configs")
    (home / "tasks").mkdir()
    tiny = home / "model_configs" / "tiny_trained.yaml"
    tiny.write_text(tiny.read_text().replace("lam: 1.4", "lam: 2.5"))
    monkeypatch.setenv(resources.HOME_ENV, str(home))
    assert resources.project_dir() == home and resources.tasks_dir() == home / "tasks"
    monkeypatch.chdir(tmp_path)
    cfg = load_backbone_config("tiny-trained")
    assert cfg.lam == 2.5  # the home's copy, not the checkout's
    assert cfg.pretrained == "seats_eval/data/tiny_trained/qwen2.5-omni"  # not in the home: kept as written
    with pytest.raises(ConfigError, match=rf"'paper' not found: {home}/results/paper is missing \(\$SEATS_EVAL_HOME"):
        resources.resource("paper")
    monkeypatch.setenv(resources.HOME_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="SEATS_EVAL_HOME=.*absent: not a folder"):
        resources.tasks_dir()


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """A fake installed package: seats_eval/ in a site folder (no pyproject.toml beside it),
    with the copies the wheel carries under _resources/ and the tiny models under data/."""
    pkg = tmp_path / "site" / "seats_eval"
    for rel in ("tasks/fixture_where", "model_configs/sweeps/baselines", "results/paper"):
        (pkg / "_resources" / rel).mkdir(parents=True)
    (pkg / "data" / "tiny_trained" / "qwen2.5-omni").mkdir(parents=True)
    (pkg.parent / "tasks").mkdir()  # a folder named tasks beside the package is no checkout
    (pkg.parent / "model_configs").mkdir()
    work = tmp_path / "empty"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv(resources.HOME_ENV, raising=False)
    monkeypatch.setattr(resources, "_package_dir", lambda: pkg)
    return pkg


def test_an_installed_package_uses_its_copies(installed):
    pkg = installed
    assert resources.project_dir() is None
    assert resources.work_dir() == Path.cwd()  # outputs go under the working directory
    assert resources.tasks_dir() == pkg / "_resources" / "tasks"
    assert resources.resource("baselines") == pkg / "_resources" / "model_configs" / "sweeps" / "baselines"
    assert resources.resource("paper") == pkg / "_resources" / "results" / "paper"
    assert resources.resource("tiny_trained") == pkg / "data" / "tiny_trained"
    assert resources.locate("seats_eval/data/tiny_trained/qwen2.5-omni") == pkg / "data" / "tiny_trained" / "qwen2.5-omni"
    assert resources.locate("tasks/fixture_where") == pkg / "_resources" / "tasks" / "fixture_where"
    assert resources.locate("tasks/absent") is None and resources.locate("Qwen/Qwen2.5-Omni-7B") is None
    shutil.rmtree(pkg / "_resources" / "results")
    with pytest.raises(ConfigError, match=r"'paper' not found: .*_resources/results/paper is missing \(the installed"):
        resources.resource("paper")


def test_tasks_path_prints_the_task_folder(capsys, installed):
    assert main(["tasks-path"]) == 0
    assert capsys.readouterr().out == f"{installed / '_resources' / 'tasks'}\n"


def test_eval_adds_the_packaged_tasks_unless_given(monkeypatch):
    monkeypatch.delenv(resources.HOME_ENV, raising=False)
    argv = ["--model", "m", "--tasks", "t", "--output_path", "o"]
    assert with_include_path(argv) == [*argv, "--include_path", str(REPO / "tasks")]
    for given in (["--include_path", "/mine"], ["--include_path=/mine"]):
        assert with_include_path([*argv, *given]) == [*argv, *given]


def _demo_args(tmp_path, model_dir=None) -> argparse.Namespace:
    return argparse.Namespace(artifacts=str(tmp_path / "art"), out=str(tmp_path / "out"), task="seats_fixture_where_ci",
                              models="qwen25omni,seats_qwen25omni:R=0.25", model_dir=model_dir)


def test_demo_refuses_a_missing_trained_model(installed, tmp_path):
    # the fake package has no model.safetensors: an error naming it, never the random model
    with pytest.raises(ConfigError, match=r"trained tiny model is missing \(.*qwen2.5-omni/model.safetensors\)"):
        demo.run(_demo_args(tmp_path))
    assert not (tmp_path / "art" / "tiny-qwen25omni").exists()
    with pytest.raises(ConfigError, match="no seats_tiny.json"):
        demo.run(_demo_args(tmp_path, model_dir=str(tmp_path)))


@pytest.mark.parametrize("rc", [0, 1])
def test_a_demo_whose_runs_fail_exits_non_zero(monkeypatch, tmp_path, capsys, rc):
    # rc 0 with no results is lmms-eval's own way of failing; either way: non-zero, no empty plot
    calls = []
    monkeypatch.setattr(demo, "ensure_artifacts", lambda *a: (tmp_path / "model", tmp_path / "clips", None))
    monkeypatch.setattr(demo.subprocess, "call", lambda cmd, env: calls.append(cmd) or rc)
    assert demo.run(_demo_args(tmp_path)) != 0
    err = capsys.readouterr().err
    assert "FAILED: no accuracy or no per-sample records for qwen25omni, seats_qwen25omni" in err
    assert not (tmp_path / "out" / "tradeoff.png").exists()
    assert len(calls) == 2 and calls[0][1:4] == ["-m", "seats_eval.cli", "eval"]  # the checked CLI
    assert calls[0][calls[0].index("--include_path") + 1] == str(resources.tasks_dir())
