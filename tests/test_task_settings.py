"""Per-task settings live in the task YAML: every task x backbone gets its frame cap from the
task's `lmms_eval_specific_kwargs` (resolved by lmms-eval's own loader and rule), carried on
the video item of its messages, within the backbone's limit."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from lmms_eval.api.task import ConfigurableTask
from lmms_eval.utils import load_yaml_config

from seats_eval.backbones.config import load_backbone_config
from seats_eval.backbones.families import get_family
from seats_eval.errors import ConfigError
from seats_eval.tasklib import prompts

TASKS = Path(__file__).resolve().parents[1] / "tasks"
BENCHES = ("worldsense", "dailyomni", "omnivideobench", "videomme", "lvomnibench")
# The frames each backbone sampled per benchmark before the caps moved out of the backbone
# YAMLs (their `max_frames:` tables; the fixture twins shared the benchmark's, every other
# task the default). The subsets (tasks/subsets/) fell through to the default there, which
# contradicted docs/regression.md's arithmetic (WorldSense subset at 128 frames); they now
# include their benchmark's YAML and so share its cap, as documented.
TODAY = {
    "qwen2.5-omni-7b": {"worldsense": 128, "dailyomni": 128, "omnivideobench": 256, "videomme": 768,
                        "lvomnibench": 768, None: 768},
    "qwen3-omni-30b-a3b": {"worldsense": 128, "dailyomni": 128, "omnivideobench": 196, "videomme": 196,
                           "lvomnibench": 196, None: 196},
    **{name: dict.fromkeys((*BENCHES, None), cap) for name, cap in
       (("tiny", 16), ("tiny-qwen3", 16), ("tiny-trained", 32), ("tiny-trained-qwen3", 32))},
}


def _task_files() -> dict[str, Path]:
    out = {}
    for path in sorted(TASKS.rglob("*.yaml")):
        m = re.search(r"^task:\s*(\S+)", path.read_text(encoding="utf-8"), re.M)
        if m:
            out[m.group(1)] = path
    return out


def _bench(task: str) -> str | None:
    m = re.fullmatch(r"seats_(?:fixture_)?(?:subset_)?(\w+)", task)
    return m.group(1) if m and m.group(1) in BENCHES else None


def _task_kwargs(config: dict, model_name: str) -> dict | None:
    """The kwargs lmms-eval hands the task's functions when `--model model_name` runs it."""
    holder = SimpleNamespace(model_name=model_name, config=SimpleNamespace(
        lmms_eval_specific_kwargs=copy.deepcopy(config.get("lmms_eval_specific_kwargs")),
        model_specific_target_kwargs=None, model_specific_generation_kwargs=None))
    ConfigurableTask._prepare_model_specific_config(holder)
    return holder.lmms_eval_specific_kwargs


@pytest.fixture(scope="module")
def task_configs() -> dict[str, dict]:
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SEATS_")}
    try:
        return {task: load_yaml_config(str(path), mode="full") for task, path in _task_files().items()}
    finally:
        os.environ.update(saved)


def test_every_task_is_covered(task_configs: dict[str, dict]) -> None:
    assert len(task_configs) == 23  # 5 benchmarks x (real, fixture, subset, fixture subset) + mcq + 2 where
    assert {_bench(t) for t in task_configs} == {*BENCHES, None}


@pytest.mark.parametrize("backbone", sorted(TODAY))
def test_every_task_and_backbone_gets_todays_frames(task_configs: dict[str, dict], backbone: str) -> None:
    cfg = load_backbone_config(backbone)
    model = f"seats_{get_family(cfg.family).suffix}"
    for task, config in task_configs.items():
        kwargs = _task_kwargs(config, model)
        if "doc_to_messages" not in config:  # lmms-eval builds the messages: no cap could ride on them
            assert "max_frames" not in (kwargs or {}), task
        else:  # the one builder that carries the cap
            assert config["doc_to_messages"].__qualname__ == "chat_messages.<locals>.doc_to_messages", task
        build = prompts.chat_messages(lambda doc: ["/v.mp4"], lambda doc, kw=None: "question")
        messages = build({}, kwargs)
        assert cfg.frame_cap(prompts.frame_cap(messages)) == TODAY[backbone][_bench(task)], (task, backbone)


def test_a_model_keyed_entry_wins_as_in_lmms_eval(task_configs: dict[str, dict]) -> None:
    config = copy.deepcopy(task_configs["seats_worldsense"])
    config["lmms_eval_specific_kwargs"]["seats_qwen3omni"] = {"max_frames": 64}
    q3 = load_backbone_config("qwen3-omni-30b-a3b")
    build = prompts.chat_messages(lambda doc: ["/v.mp4"], lambda doc, kw=None: "question")
    assert q3.frame_cap(prompts.frame_cap(build({}, _task_kwargs(config, "seats_qwen3omni")))) == 64
    assert q3.frame_cap(prompts.frame_cap(build({}, _task_kwargs(config, "fastv_qwen3omni")))) == 128


def test_the_cap_rides_on_the_video_item_and_bad_caps_are_refused() -> None:
    build = prompts.chat_messages(lambda doc: ["/a.mp4", "/b.mp4"], lambda doc, kw=None: "q")
    user = build({}, {"max_frames": 128})[-1]["content"]
    assert user[:2] == [{"type": "video", "url": "/a.mp4", "max_frames": 128},
                        {"type": "video", "url": "/b.mp4", "max_frames": 128}]
    assert prompts.frame_cap(build({}, {})) is None
    for bad in (0, "128", 1.5, True):
        with pytest.raises(ConfigError, match="task max_frames"):
            build({}, {"max_frames": bad})


def test_a_backbone_yaml_with_a_per_task_table_is_refused(tmp_path: Path) -> None:
    text = ("backbone: old\nnum_layers: 8\nvideo_tokens_per_window: 288\naudio_tokens_per_window: 50\n"
            "boundaries: [2, 4, 5, 7]\nlam: 1.4\ntau: 0.1\nmax_frames:\n  default: 768\n  seats_worldsense: 128\n")
    (tmp_path / "old.yaml").write_text(text)
    with pytest.raises(ConfigError, match="per-task caps go in the task YAML"):
        load_backbone_config(tmp_path / "old.yaml")


def test_every_task_names_its_main_metric(task_configs: dict[str, dict]) -> None:
    for task, config in task_configs.items():
        listed = [m["metric"] for m in config["metric_list"]]
        assert config["metadata"]["main_metric"] in listed, task


def test_the_named_metric_is_reported_whatever_comes_first() -> None:
    from seats_eval.sweep.store import task_scores

    # lmms-eval keeps the YAML's metric order; a metric listed before the score must not become it
    results = {"results": {"seats_worldsense": {"alias": "seats_worldsense", "sample_failures,none": 0,
                                                "new_metric,none": 12.0, "worldsense_score,none": 61.5}},
               "configs": {"seats_worldsense": {"metric_list": [{"metric": "new_metric"},
                                                                {"metric": "worldsense_score"}],
                                                "metadata": {"version": 1.0, "main_metric": "worldsense_score"}}}}
    assert task_scores(results) == {"seats_worldsense": 61.5}
    del results["configs"]["seats_worldsense"]["metadata"]["main_metric"]
    with pytest.raises(ConfigError, match="seats_worldsense names no main metric.*new_metric, worldsense_score"):
        task_scores(results)


def test_results_written_before_tasks_named_their_metric_still_read() -> None:
    """A finished job's results JSON from before `main_metric` and the authors' metric's rename:
    the one non-auxiliary metric is its score, and the authors' score is read under its old name."""
    from seats_eval.sweep.store import task_scores

    listed = ["worldsense_score", "mcq_accuracy_official", "sample_failures", "category_breakdown"]
    results = {"results": {"seats_worldsense": {"worldsense_score,none": 61.5, "mcq_accuracy_official,none": 60.0,
                                                "sample_failures,none": 0, "category_breakdown,none": {}}},
               "configs": {"seats_worldsense": {"metric_list": [{"metric": m} for m in listed],
                                                "metadata": {"version": 1.0}}}}
    assert task_scores(results) == {"seats_worldsense": 61.5}
    assert task_scores(results, authors=True) == {"seats_worldsense": 60.0}
