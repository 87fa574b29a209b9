"""The lmms-eval tasks under tasks/ and their shared helpers (seats_eval.tasklib).

CPU only, no model, no network: every benchmark's utils.py runs on its fixture records,
and lmms-eval's TaskManager lists and loads the tasks offline in a subprocess.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seats_eval.cli import main as cli_main
from seats_eval.errors import ConfigError, MediaError
from seats_eval.tasklib import paths, prompts, records, scoring, sources
from seats_eval.tasklib.scoring import FAILURE_MARKER

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"
FIXTURES = TASKS / "fixtures"
BENCHES = ("worldsense", "dailyomni", "omnivideobench", "videomme", "lvomnibench")
CLIPS = ("av_moving", "av_long", "video_only", "short")
ALL_TASKS = sorted(
    [f"seats_{b}" for b in BENCHES]
    + [f"seats_fixture_{b}" for b in BENCHES]
    + ["seats_fixture_mcq", "seats_fixture_where", "seats_fixture_where_ci"]
    + [f"seats_subset_{b}" for b in BENCHES]
    + [f"seats_fixture_subset_{b}" for b in BENCHES]
)

# per benchmark: options column, answer column, metric, category fields, video id of a doc
SPEC = {
    "worldsense": {
        "options": "candidates",
        "answer": "answer",
        "metric": "worldsense_score",
        "fields": [
            "question_id",
            "task_type",
            "domain",
            "task_domain",
            "sub_category",
            "duration",
            "duration_bucket",
            "audio_class",
        ],
        "video_id": lambda d: d["video"],
        "rel": lambda d: d["video_path"][2:],
    },
    "dailyomni": {
        "options": "Choice",
        "answer": "Answer",
        "metric": "dailyomni_score",
        "fields": ["question_id", "Type", "video_category", "video_duration"],
        "video_id": lambda d: d["video_id"],
        "rel": lambda d: f"Videos/{d['video_id']}/{d['video_id']}_video.mp4",
    },
    "omnivideobench": {
        "options": "options",
        "answer": "correct_option",
        "metric": "omnivideobench_perception_score",
        "fields": ["video_type", "question_type", "audio_type", "duration", "duration_bucket"],
        "video_id": lambda d: Path(d["video"]).stem,
        "rel": lambda d: f"videos/{Path(d['video']).stem}.mp4",
    },
    "videomme": {
        "options": "options",
        "answer": "answer",
        "metric": "videomme_perception_score",
        "fields": ["question_id", "duration", "domain", "sub_category", "task_type"],
        "video_id": lambda d: d["videoID"],
        "rel": lambda d: f"data/{d['videoID']}.mp4",
    },
    "lvomnibench": {
        "options": "options",
        "answer": "answer",
        "metric": "lvomnibench_perception_score",
        "fields": [
            "question_id",
            "video_category",
            "sub_category",
            "question_type",
            "audio_type",
            "difficulty",
            "duration",
            "duration_bucket",
        ],
        "video_id": lambda d: d["video_id"],
        "rel": lambda d: f"videos/{d['video_id']}.mp4",
    },
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("SEATS_"):
            monkeypatch.delenv(name)
    # an empty hub cache: a real download on this machine must not change the defaults
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def load_utils(folder: str):
    path = TASKS / folder / "utils.py"
    spec = importlib.util.spec_from_file_location(f"seats_test_utils_{folder}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_docs(folder: str) -> list[dict]:
    return pq.read_table(FIXTURES / folder / "test-00000-of-00001.parquet").to_pylist()


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00")
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("bench", [*BENCHES, "mcq"])
def test_fixture_parquet_is_tiny_and_uses_the_clips(bench):
    path = FIXTURES / bench / "test-00000-of-00001.parquet"
    assert path.stat().st_size < 20_000
    docs = fixture_docs(bench)
    assert 3 <= len(docs) <= 5
    module = load_utils("fixture_mcq" if bench == "mcq" else bench)
    assert {module.video_id(d) for d in docs} == set(CLIPS)


def test_fixture_record_forms():
    # the record forms the parsers must survive, as in the real data
    assert isinstance(fixture_docs("dailyomni")[0]["Choice"], str)  # numpy-style string
    assert {len(records.parse_options(d["Choice"])) for d in fixture_docs("dailyomni")} == {4}
    assert {d["duration"] for d in fixture_docs("worldsense")} == {"<1min"}  # a label
    videos = [d["video"] for d in fixture_docs("omnivideobench")]
    assert "av_moving" in videos and "videos/av_long.mp4" in videos  # bare id and path
    assert isinstance(fixture_docs("lvomnibench")[0]["options"], str)  # list repr with commas
    assert {len(d["duration"].split(":")) for d in fixture_docs("lvomnibench")} == {2, 3}
    assert isinstance(fixture_docs("worldsense")[0]["audio_class"], str)
    assert fixture_docs("omnivideobench")[0]["options"][0].startswith("A.") is True


# --------------------------------------------------------------------------- doc_to_visual


@pytest.mark.parametrize("bench", BENCHES)
def test_doc_to_visual_joins_under_the_root(bench, tmp_path, monkeypatch):
    spec = SPEC[bench]
    monkeypatch.setenv(f"SEATS_{bench.upper()}_ROOT", str(tmp_path))
    module = load_utils(bench)
    for doc in fixture_docs(bench):
        expected = touch(tmp_path / spec["rel"](doc))
        (out,) = module.doc_to_visual(doc)
        assert out == str(expected)
        assert os.path.isabs(out)


@pytest.mark.parametrize("bench", BENCHES)
def test_data_root_gives_the_video_root(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("SEATS_DATA_ROOT", str(tmp_path))
    module = load_utils(bench)
    doc = fixture_docs(bench)[0]
    expected = touch(tmp_path / bench / SPEC[bench]["rel"](doc))
    assert module.doc_to_visual(doc) == [str(expected)]


def test_alternative_video_layouts(tmp_path, monkeypatch):
    monkeypatch.setenv("SEATS_DAILYOMNI_ROOT", str(tmp_path / "d"))
    monkeypatch.setenv("SEATS_VIDEOMME_ROOT", str(tmp_path / "v"))
    doc = fixture_docs("dailyomni")[0]
    got = touch(tmp_path / "d" / "videos" / "av_moving" / "av_moving_video.mp4")
    assert load_utils("dailyomni").doc_to_visual(doc) == [str(got)]
    doc = fixture_docs("videomme")[1]
    got = touch(tmp_path / "v" / "data" / "av_long.mkv")
    assert load_utils("videomme").doc_to_visual(doc) == [str(got)]


@pytest.mark.parametrize("bench", BENCHES)
def test_missing_video_raises_media_error_naming_path_and_env(bench, tmp_path, monkeypatch):
    env = f"SEATS_{bench.upper()}_ROOT"
    monkeypatch.setenv(env, str(tmp_path))
    module = load_utils(bench)
    doc = fixture_docs(bench)[0]
    with pytest.raises(MediaError) as info:
        module.doc_to_visual(doc)
    expected = str(tmp_path / SPEC[bench]["rel"](doc))
    assert info.value.path == expected
    assert expected in str(info.value)
    assert env in str(info.value)
    assert "SEATS_DATA_ROOT" in str(info.value)


ESCAPES = {
    "worldsense": [
        ("video_path", "../../etc/passwd"),
        ("video_path", "/etc/passwd"),
        ("video_path", "./videos/../../x.mp4"),
    ],
    "dailyomni": [("video_id", "../../etc"), ("video_id", "..")],
    "omnivideobench": [
        ("video", "/abs/x.mp4"),
        ("video", "..\\..\\x.mp4"),
        ("video", "C:\\x.mp4"),
        ("video", "~/x.mp4"),
    ],
    "videomme": [("videoID", "../x"), ("videoID", "../../../tmp/evil")],
    "lvomnibench": [("video_id", "../../x"), ("video_id", "a/../../b")],
}


@pytest.mark.parametrize("bench", BENCHES)
def test_doc_to_visual_rejects_escapes(bench, tmp_path, monkeypatch):
    monkeypatch.setenv(f"SEATS_{bench.upper()}_ROOT", str(tmp_path / "root"))
    touch(tmp_path / "x.mp4")
    module = load_utils(bench)
    for key, value in ESCAPES[bench]:
        doc = dict(fixture_docs(bench)[0], **{key: value})
        with pytest.raises(paths.UnsafePathError) as info:
            module.doc_to_visual(doc)
        assert isinstance(info.value, MediaError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("folder", [*BENCHES, "fixture_mcq"])
def test_fixture_doc_to_visual(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("SEATS_FIXTURE_CLIPS", str(tmp_path))
    module = load_utils(folder)
    fn = module.doc_to_visual if folder == "fixture_mcq" else module.fixture_doc_to_visual
    data = "mcq" if folder == "fixture_mcq" else folder
    docs = fixture_docs(data)
    with pytest.raises(MediaError) as info:
        fn(docs[0])
    assert "SEATS_FIXTURE_CLIPS" in str(info.value)
    assert str(tmp_path / "av_moving.mp4") in str(info.value)
    for clip in CLIPS:
        touch(tmp_path / f"{clip}.mp4")
    assert sorted(fn(d)[0] for d in docs) == sorted(str(tmp_path / f"{c}.mp4") for c in CLIPS)


def test_fixture_clip_root_default():
    assert sources.fixture_clip_root() == REPO / "artifacts" / "clips"


# --------------------------------------------------------------------------- prompts

ANALYZE = prompts.PRESETS["qwen_analyze"]
PROMPTS = {
    "worldsense": (
        "What can be heard in the clip?\nOptions:\nA. A steady tone\nB. A dog barking\n"
        "C. Human speech\nD. Nothing at all\n"
        "Answer with the option's letter from the given choices directly."
    ),
    "dailyomni": (
        "Your task is to accurately answer multiple-choice questions based on the given video.\n"
        "Select the single most accurate answer from the given choices.\n"
        "Question: What can be heard in the clip?\n"
        "Choices: A. A steady tone\nB. A dog barking\nC. Human speech\nD. Nothing at all\n"
        "Your answer should be a capital letter representing your choice: A, B, C, or D. "
        "Don't generate any other text.\n"
    ),
    "omnivideobench": (
        "You are given a video. Based on the content of the video, answer the following question:"
        "\n\nQuestion:\nWhat can be heard in the clip?\n\n"
        "Options:\nA.A steady tone\nB.A dog barking\nC.Human speech\nD.Nothing at all\n\n"
        "Answer with the option's letter directly(e.g., A, B, C, or D)."
        "If your access to the video content is limited, at least one option that is more likely "
        "than the others must be chosen.Mustn't give any other reason for can not choose!"
    ),
    "videomme": (
        "Select the best answer to the following multiple-choice question based on the video and "
        "the subtitles. Respond with only the letter (A, B, C, or D) of the correct option.\n"
        "What can be heard in the clip?\n"
        "A. A steady tone\nB. A dog barking\nC. Human speech\nD. Nothing at all\n\n"
        "Answer with the option's letter from the given choices directly."
    ),
    "lvomnibench": (  # the authors' fork: options on the "Options:" line, "(A/B/C/D)", a semicolon
        "Question: What can be heard in the clip?\n"
        "Options: A. A steady tone\nB. A dog barking\nC. Human speech\nD. Nothing at all\n"
        "Select the best answer from the options above. Directly provide the letter representing "
        "your choice (A/B/C/D) and nothing else. Do not include the full text of the option; do not "
        "provide any explanation."
    ),
}


@pytest.mark.parametrize("bench", BENCHES)
def test_doc_to_text_official_format(bench):
    module = load_utils(bench)
    docs = fixture_docs(bench)
    kwargs = (
        {"pre_prompt": "", "post_prompt": module.DEFAULT_POST_PROMPT}
        if bench == "videomme"
        else None
    )
    assert module.doc_to_text(docs[0], kwargs) == PROMPTS[bench]
    for doc in docs:
        text = module.doc_to_text(doc, kwargs)
        question = doc.get("question") or doc.get("Question")
        assert question in text
        for line in records.format_options(doc[SPEC[bench]["options"]]):
            assert f"\n{line}\n" in text or f" {line}\n" in text


THREE_CHOICES = "['A. Yes, a tone' 'B. Yes, speech' 'C. No, it has no audio']"


def test_dailyomni_three_options_prompt():
    # the release has 4 options everywhere; a shorter list must still format and score
    module = load_utils("dailyomni")
    doc = dict(fixture_docs("dailyomni")[2], Choice=THREE_CHOICES, Answer="C")
    text = module.doc_to_text(doc)
    assert "Choices: A. Yes, a tone\nB. Yes, speech\nC. No, it has no audio\nYour answer" in text


def test_videomme_prompt_without_kwargs_uses_default_post_prompt():
    module = load_utils("videomme")
    doc = fixture_docs("videomme")[0]
    assert module.doc_to_text(doc) == PROMPTS["videomme"]


def test_mcq_prompt():
    module = load_utils("fixture_mcq")
    text = module.doc_to_text(fixture_docs("mcq")[0])
    assert text.startswith("What can be heard in the clip?\nOptions:\nA. A steady tone\n")


# --------------------------------------------------------------------------- process_results


@pytest.mark.parametrize("bench", BENCHES)
def test_process_results_payload(bench):
    spec = SPEC[bench]
    module = load_utils(bench)
    for doc in fixture_docs(bench):
        gold = doc[spec["answer"]]
        letters = records.option_letters(doc[spec["options"]])
        wrong = next(x for x in letters if x != gold)
        right = module.process_results(doc, [f"The answer is {gold}."])
        assert set(right) == {spec["metric"], "sample_failures", "mcq_accuracy_authors", "category_breakdown"}
        payload = right[spec["metric"]]
        assert right["sample_failures"] is payload and right["category_breakdown"] is payload
        assert payload["failed"] == 0.0
        assert payload["score"] == 1.0 and payload["pred"] == gold and payload["answer"] == gold
        assert payload["video_id"] == spec["video_id"](doc)
        for name in spec["fields"]:
            assert name in payload, name
        json.dumps(payload)  # logged by --log_samples
        miss = module.process_results(doc, [wrong])[spec["metric"]]
        assert miss["score"] == 0.0 and miss["pred"] == wrong
        empty = module.process_results(doc, [""])[spec["metric"]]
        assert empty["score"] == 0.0 and empty["pred"] == ""
        # the model's failure marker (even one naming the right letter) scores 0 and is counted
        failed = module.process_results(doc, [f"{FAILURE_MARKER} t/test/0 (v.mp4): MediaError: {gold}"])
        assert failed[spec["metric"]]["score"] == 0.0 and failed[spec["metric"]]["failed"] == 1.0
        assert module.count_failures([payload, failed["sample_failures"], miss]) == 1


def test_payload_category_values():
    ws = load_utils("worldsense").process_results(fixture_docs("worldsense")[0], ["A"])
    assert ws["worldsense_score"]["audio_class"] == ["Speech", "Music"]
    assert ws["worldsense_score"]["domain"] == "Tech & Science"
    lv = load_utils("lvomnibench").process_results(fixture_docs("lvomnibench")[1], ["C"])
    assert lv["lvomnibench_perception_score"]["duration_bucket"] == "0-1min"
    assert lv["lvomnibench_perception_score"]["score"] == 1.0
    doc = dict(fixture_docs("dailyomni")[2], Choice=THREE_CHOICES, Answer="C")
    do = load_utils("dailyomni").process_results(doc, ["D"])
    assert do["dailyomni_score"]["pred"] == ""  # D is not an option of a 3-option question


@pytest.mark.parametrize("label", ["<1min", ">8min", "1-2min", "2~4 min"])
def test_worldsense_duration_is_a_label(label):
    # the release's `duration` is a label, not seconds: kept as is, never parsed or bucketed
    doc = dict(fixture_docs("worldsense")[0], duration=label)
    payload = load_utils("worldsense").process_results(doc, ["A"])["worldsense_score"]
    assert payload["duration"] == label and payload["duration_bucket"] == label
    assert payload["score"] == 1.0


@pytest.mark.parametrize("folder", [*BENCHES, "fixture_mcq"])
def test_aggregation_is_percent(folder):
    module = load_utils(folder)
    results = [{"score": s, "video_id": "v"} for s in (1.0, 0.0, 1.0, 1.0)]
    assert module.aggregate_results(results) == pytest.approx(75.0)


# --------------------------------------------------------------------------- parsing helpers


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:04", 4),
        ("12:34", 754),
        ("1:02:03", 3723),
        ("01:02:03", 3723),
        ("0:00:09", 9),
        ("95", 95),
        ("95.5", 95.5),
        ("30s", 30),
        ("2min", 120),
        (42, 42),
        (4.5, 4.5),
        ("1:05.5", 65.5),
    ],
)
def test_parse_duration(value, seconds):
    assert records.parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["short", "", None, "1:2:3:4", "-5", True, "ab:cd"])
def test_parse_duration_rejects(value):
    with pytest.raises(ValueError):
        records.parse_duration(value)


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        ("00:30", "0-1min"),
        ("01:00", "0-1min"),
        ("01:01", "1-5min"),
        ("10:00", "5-10min"),
        ("29:59", "10-30min"),
        ("1:30:00", ">30min"),
        (2069, ">30min"),
        ("medium", "medium"),
    ],
)
def test_duration_bucket(value, bucket):
    assert records.duration_bucket(value) == bucket


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("['Speech' 'Music']", ["Speech", "Music"]),
        ("['Speech', 'Music']", ["Speech", "Music"]),
        ("[]", []),
        ("Speech", ["Speech"]),
        ("Speech, Event", ["Speech", "Event"]),
        (["Speech"], ["Speech"]),
        (None, []),
    ],
)
def test_parse_str_list(value, expected):
    assert records.parse_str_list(value) == expected


def test_format_options_adds_missing_labels():
    assert records.format_options(["cat", "dog", "bird"]) == ["A. cat", "B. dog", "C. bird"]
    assert records.format_options("['A. cat' 'B. dog']") == ["A. cat", "B. dog"]
    assert records.format_options(["A.cat", "B.dog"]) == ["A.cat", "B.dog"]


@pytest.mark.parametrize(
    ("raw", "letter"),
    [("B", "B"), ("b", "B"), ("B.", "B"), ("(C)", "C"), ("D. fish", "D"), ("dog", "B")],
)
def test_answer_letter(raw, letter):
    assert records.answer_letter(raw, ["A. cat", "B. dog", "C. bird", "D. fish"]) == letter


@pytest.mark.parametrize("raw", ["", None, "E", "zebra"])
def test_answer_letter_rejects(raw):
    with pytest.raises(ValueError):
        records.answer_letter(raw, ["A. cat", "B. dog", "C. bird", "D. fish"])


def test_safe_join(tmp_path):
    assert paths.safe_join(tmp_path, "./videos/a.mp4") == tmp_path / "videos" / "a.mp4"
    assert paths.safe_join(tmp_path, "videos//a.mp4") == tmp_path / "videos" / "a.mp4"
    for bad in ["../a", "/a", "", "a/../../b", "\\\\server\\x", "C:x", "a\x00b", "."]:
        with pytest.raises(paths.UnsafePathError):
            paths.safe_join(tmp_path, bad)


# --------------------------------------------------------------------------- data sources


def test_dataset_source_defaults_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    path, kwargs = sources.dataset_source("worldsense")
    assert path == "lmms-lab/WorldSense"
    assert kwargs["video"] is True and kwargs["cache_dir"] == str(tmp_path / "WorldSense")
    assert load_utils("worldsense").DATASET_PATH == "lmms-lab/WorldSense"
    path, kwargs = sources.dataset_source("omnivideobench")  # nothing downloaded yet
    assert path == "NJU-LINK/OmniVideoBench"
    assert kwargs["data_files"] == {"test": "data.parquet"}  # not the default split "train"
    assert kwargs["create_link"] is True  # lmms-eval links the snapshot (loose videos)
    assert kwargs["cache_dir"] == str(tmp_path / "OmniVideoBench")
    assert sources.dataset_source("videomme")[0] == "lmms-eval/Video-MME"


def test_dataset_source_local_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("SEATS_WORLDSENSE_DATA", str(FIXTURES / "worldsense"))
    path, kwargs = sources.dataset_source("worldsense")
    assert path == "parquet"
    assert kwargs == {
        "data_files": {"test": [str(FIXTURES / "worldsense" / "test-00000-of-00001.parquet")]}
    }
    assert load_utils("worldsense").DATASET_PATH == "parquet"

    monkeypatch.setenv("SEATS_DATA_ROOT", str(tmp_path))
    (tmp_path / "videomme" / "videomme").mkdir(parents=True)
    shutil.copy(
        FIXTURES / "videomme" / "test-00000-of-00001.parquet",
        tmp_path / "videomme" / "videomme" / "test-00000-of-00001.parquet",
    )
    path, kwargs = sources.dataset_source("videomme")
    assert path == "parquet" and kwargs["data_files"]["test"][0].startswith(str(tmp_path))
    assert sources.video_root("videomme") == tmp_path / "videomme"
    # nothing local for LVOmniBench: annotations from the hub, videos from the data root
    monkeypatch.delenv("HF_HOME", raising=False)
    (tmp_path / "lvomnibench").mkdir()
    path, kwargs = sources.dataset_source("lvomnibench")
    assert path == "xxayt/LVOmniBench" and kwargs["cache_dir"] == str(tmp_path / "lvomnibench")
    (tmp_path / "lvomnibench").rmdir()  # a configured root that is missing: no download into it
    assert "cache_dir" not in sources.dataset_source("lvomnibench")[1]

    monkeypatch.setenv("SEATS_DAILYOMNI_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="SEATS_DAILYOMNI_DATA"):
        sources.dataset_source("dailyomni")


def test_find_parquet_files_prefers_test(tmp_path):
    for name in (
        "data/test-00000-of-00002.parquet",
        "data/test-00001-of-00002.parquet",
        "data/train-00000-of-00001.parquet",
    ):
        touch(tmp_path / name)
    assert [Path(f).name for f in sources.find_parquet_files(tmp_path)] == [
        "test-00000-of-00002.parquet",
        "test-00001-of-00002.parquet",
    ]
    assert sources.find_parquet_files(tmp_path / "missing") == []


# --------------------------------------------------------------------------- system prompt


def test_system_presets_and_literal_text():
    default = prompts.QWEN_OMNI_SYSTEM_PROMPT
    assert prompts.ANALYZE_SUFFIX.startswith("Please analyze the video carefully")
    assert prompts.resolve_system_prompt("qwen_analyze") == f"{default} {prompts.ANALYZE_SUFFIX}"
    assert prompts.resolve_system_prompt("qwen") == default
    assert prompts.resolve_system_prompt("") == "" and prompts.resolve_system_prompt("empty") == ""
    assert prompts.resolve_system_prompt("Be brief.") == "Be brief."
    assert prompts.resolve_system_prompt(None) is None


def test_chat_messages_carry_the_yaml_system_turn():
    fn = prompts.chat_messages(lambda doc: ["/v.mp4"], lambda doc, kw=None: f"Q{doc['i']}")
    empty = fn({"i": 1}, {"system_prompt": ""})
    assert empty[0] == {"role": "system", "content": [{"type": "text", "text": ""}]}
    assert prompts.read_messages(empty) == ("", ["/v.mp4"], "Q1")
    assert prompts.read_messages(fn({"i": 2}, {})) == (None, ["/v.mp4"], "Q2")  # no turn at all
    assert prompts.read_messages(fn({"i": 3}, {"system_prompt": "qwen"}))[0] == prompts.QWEN_OMNI_SYSTEM_PROMPT


# --------------------------------------------------------------------------- breakdown


def _write_samples(path: Path) -> Path:
    rows = [
        ("Audio Recognition", "Music", ["Speech", "Music"], 1.0),
        ("Audio Recognition", "Sports", ["Speech"], 0.0),
        ("Object Counting", "Music", ["Event"], 1.0),
        ("Object Counting", "Music", [], 1.0),
    ]
    with open(path, "w", encoding="utf-8") as fh:
        for i, (task_type, domain, audio, score) in enumerate(rows):
            sample = {
                "doc_id": i,
                "doc": {"index": i, "video": f"v{i % 2}", "question": "q?", "subject": f"s{i % 2}"},
                "target": "A",
                "arguments": [["prompt", {"max_new_tokens": 16}]],
                "resps": [["A"]],
                "filtered_resps": ["A"],
                "worldsense_score": {
                    "score": score,
                    "pred": "A",
                    "answer": "A",
                    "video_id": f"v{i % 2}",
                    "task_type": task_type,
                    "domain": domain,
                    "audio_class": audio,
                },
            }
            fh.write(json.dumps(sample) + "\n")
    return path


def test_breakdown(tmp_path):
    samples = _write_samples(tmp_path / "s.jsonl")
    table = scoring.breakdown(samples, ["task_type", "audio_class", "subject"])
    rows = {(r.field, r.value): (r.n, r.correct, r.accuracy) for r in table.itertuples()}
    assert rows[("overall", "all")] == (4, 3, 75.0)
    assert rows[("task_type", "Audio Recognition")] == (2, 1, 50.0)
    assert rows[("task_type", "Object Counting")] == (2, 2, 100.0)
    assert rows[("audio_class", "Speech")] == (2, 1, 50.0)  # list field: once per class
    assert rows[("audio_class", "Music")] == (1, 1, 100.0)
    assert rows[("subject", "s1")] == (2, 1, 50.0)  # a doc field
    default = scoring.breakdown(samples)
    assert set(default["field"]) == {"overall", "task_type", "domain", "audio_class"}
    with pytest.raises(ValueError, match="nope"):
        scoring.breakdown(samples, ["nope"])


def test_category_breakdown_metric_agrees_with_the_offline_breakdown(tmp_path):
    """The `category_breakdown` aggregation (results JSON) equals `seats-eval breakdown` on the
    logged samples: same n and accuracy per value, list fields counted once per item."""
    samples = _write_samples(tmp_path / "s.jsonl")
    payloads = [json.loads(x)["worldsense_score"] for x in samples.read_text().splitlines()]
    got = scoring.category_breakdown(payloads, ["task_type", "audio_class", "absent"])
    table = scoring.breakdown(samples, ["task_type", "audio_class"])
    want = {(r.field, r.value): (r.n, r.accuracy) for r in table.itertuples() if r.field != "overall"}
    assert {(f, v): (c["n"], c["accuracy"]) for f, vals in got.items() for v, c in vals.items()} == want
    assert "absent" not in got


def test_breakdown_cli(tmp_path):
    samples = _write_samples(tmp_path / "s.jsonl")
    out = tmp_path / "out" / "b.csv"
    assert cli_main(["breakdown", str(samples), "--by", "domain", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "field,value,n,correct,accuracy"
    assert "overall,all,4,3,75.00" in lines
    assert "domain,Music,3,3,100.00" in lines
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seats_eval.cli",
            "breakdown",
            str(samples),
            "--by",
            "task_type",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert "Object Counting" in proc.stdout


# --------------------------------------------------------------------------- lmms-eval

IMPORT_SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    import seats_eval.tasklib.prompts
    for path in sys.argv[1:]:
        spec = importlib.util.spec_from_file_location(path, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "pandas", "transformers")
                 or m.startswith(("seats_eval.models", "seats_eval.runtime", "lmms_eval"))))
    """
)


def test_task_utils_import_without_model_code(tmp_path):
    # lmms-eval indexes the task configs (and runs their `!function` imports) with no model
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATS_")}
    env.update(HF_HOME=str(tmp_path), PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    files = [str(p) for p in sorted(TASKS.glob("*/utils.py"))]
    assert len(files) == len(BENCHES) + 3  # + fixture_mcq, fixture_where, subsets
    proc = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, *files], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"


LMMS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from lmms_eval.tasks import TaskManager, get_task_dict
    out = {}
    tm = TaskManager(include_path=sys.argv[1])  # built-in tasks indexed too: no shadowing
    out["tasks"] = [t for t in tm.all_tasks if t.startswith("seats_")]
    names = sys.argv[2].split(",")
    loaded = {}
    for name, task in get_task_dict(names, tm).items():
        docs = task.test_docs()
        info = {"n": len(docs), "dataset_path": task.config.dataset_path,
                "cluster_key": task.config.cluster_key,
                "max_new_tokens": task.config.generation_kwargs["max_new_tokens"],
                "prompt": task.doc_to_text(docs[0])}
        try:
            info["visual"] = task.doc_to_visual(docs[0])
        except Exception as exc:
            info["visual_error"] = f"{type(exc).__name__}: {exc}"
        res = task.process_results(docs[0], ["A"])
        info["payload"] = next(iter(res.values()))
        info["metrics"] = sorted(res)
        loaded[name] = info
    for name, task in get_task_dict(names, tm, "chat").items():  # what the model ids get
        doc = task.test_docs()[0]
        try:
            messages = task.doc_to_messages(doc)
        except Exception as exc:  # the real tasks' videos are missing here
            loaded[name]["messages_error"] = f"{type(exc).__name__}: {exc}"
            continue
        loaded[name]["system"] = [m["content"][0]["text"] for m in messages if m["role"] == "system"]
        loaded[name]["user"] = messages[-1]["content"]
    out["loaded"] = loaded
    print("@@" + json.dumps(out))
    """
)


def test_lmms_eval_lists_and_loads_the_tasks_offline(tmp_path):
    clips = tmp_path / "clips"
    for clip in CLIPS:
        touch(clips / f"{clip}.mp4")
    data_root = tmp_path / "data"
    for bench in BENCHES:  # local copies of the real tasks' data: the fixture records
        shutil.copytree(FIXTURES / bench, data_root / bench)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEATS_")}
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        SEATS_FIXTURE_CLIPS=str(clips),
        SEATS_DATA_ROOT=str(data_root),
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    # the where tasks (200 / 60 generated questions, their own clips) are loaded in tests/test_regression.py,
    # the subsets in tests/test_subsets.py
    fixture_tasks = [t for t in ALL_TASKS if t.startswith("seats_fixture") and "where" not in t and "subset" not in t]
    real_tasks = [f"seats_{b}" for b in BENCHES]
    proc = subprocess.run(
        [sys.executable, "-c", LMMS_SCRIPT, str(TASKS), ",".join(fixture_tasks + real_tasks)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))
    out = json.loads(line[2:])
    assert out["tasks"] == ALL_TASKS
    loaded = out["loaded"]
    assert set(loaded) == set(fixture_tasks + real_tasks)
    max_new = {
        "worldsense": 1024,
        "dailyomni": 32,
        "omnivideobench": 32,
        "videomme": 16,
        "lvomnibench": 32,
        "mcq": 16,
    }
    for name, info in loaded.items():
        bench = name.split("_")[-1]
        assert info["n"] == 4
        assert info["cluster_key"] == "video_id"
        assert info["max_new_tokens"] == max_new[bench]
        assert info["dataset_path"] == "parquet"
        assert info["payload"]["score"] == 1.0 and info["payload"]["video_id"] == "av_moving"
        if bench != "mcq":
            assert info["payload"]["score_authors"] == 1.0, name
            assert "mcq_accuracy_authors" in info["metrics"], name
        if name.startswith("seats_fixture"):
            assert info["visual"] == [str(clips / "av_moving.mp4")]
            cap = {"worldsense": {"max_frames": 128}, "dailyomni": {"max_frames": 128},
                   "omnivideobench": {"max_frames": 256}}.get(bench, {})  # the task YAML's frame cap
            assert info["user"] == [{"type": "video", "url": str(clips / "av_moving.mp4"), **cap},
                                    {"type": "text", "text": info["prompt"]}], name
            want = {"worldsense": [ANALYZE], "dailyomni": [ANALYZE], "mcq": []}.get(bench, [""])
            assert info["system"] == want, name  # "" = an empty system turn, as the authors ran it
        else:
            assert info["prompt"] == PROMPTS[bench]
            assert (
                "MediaError" in info["visual_error"]
                and f"SEATS_{bench.upper()}_ROOT" in info["visual_error"]
            )
