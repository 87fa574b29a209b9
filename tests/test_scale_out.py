"""Scale-out for real (issue 14): data parallel through `accelerate launch` and a Slurm array
on a real single-node Slurm must give the same per-sample answers and records as one local
process. Unit checks of the pieces (rank files, merge order, sbatch resources) run by
default; the end-to-end runs are marked slow (`.ci/run` runs them explicitly).

The end-to-end runs use two jobs of the tiny Table 3 sweep (`full` and `seats_R35_both`, the
five fixture tasks, 3 samples each): a local sweep of those jobs is the reference. The
fixture tasks ask one question per video, so prefix sharing under data parallel (a video's
requests computed on one rank, parallel.assign) is shown on a task written by the test with
several questions per video: two ranks as threads (default suite) and a 2-process
`accelerate launch` of `seats-eval eval` (slow).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seats_eval import sweep as sw
from seats_eval.models import parallel
from seats_eval.sweep.launchers import array_ranges

REPO = Path(__file__).resolve().parents[1]
JOBS = "full,seats_R35_both"
# run-dependent (encoder_cache: who filled it first; run_id: which process wrote the row)
TIMINGS = {"seconds", "timings", "encoder_cache", "run_id"}


def cli(*args: str, timeout: int = 900, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seats_eval.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def sweep_args(out: Path, artifacts: Path) -> list[str]:
    return ["sweep", "--spec", "table3_tiny", "--tasks", "fixtures", "--artifacts", str(artifacts),
            "--out", str(out), "--only", JOBS, "--no-progress", "--limit", "3"]  # 3 records a task: DP, not quality


def rows(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        r = {k: v for k, v in json.loads(line).items() if k not in TIMINGS}
        r["steps"] = [{k: v for k, v in s.items() if k != "seconds"} for s in r.get("steps") or []]
        out.append(r)
    return out


def answers(result: Path) -> dict[tuple[str, int], object]:
    got = {}
    for f in (result / "output").rglob("*_samples_*.jsonl"):
        task = f.name.split("_samples_", 1)[1].removesuffix(".jsonl")
        for line in f.read_text().splitlines():
            d = json.loads(line)
            got[(task, d["doc_id"])] = d  # answer, scores, prompt, doc hash
    return got


def assert_same_results(ref: Path, other: Path) -> None:
    """Every job: records equal row for row, in the same order (timings aside), logged answers
    equal, the same failures; and `seats-eval compare-sweeps` agrees."""
    expected = 3 * len(sw.load_spec("table3_tiny", tasks="fixtures").tasks)  # --limit 3 per task
    for job in JOBS.split(","):
        a, b = ref / "jobs" / job / "result", other / "jobs" / job / "result"
        ra, rb = rows(a / "records" / "records.jsonl"), rows(b / "records" / "records.jsonl")
        assert len(ra) == expected and [(r["task"], r["doc_id"]) for r in ra] == [(r["task"], r["doc_id"]) for r in rb]
        assert ra == rb, job
        fa, fb = a / "records" / "failures.jsonl", b / "records" / "failures.jsonl"
        assert (rows(fa) if fa.exists() else []) == (rows(fb) if fb.exists() else [])
        assert len(answers(a)) == expected and answers(a) == answers(b), job
        assert not list((b / "records").glob("*.rank*.jsonl"))  # merged, none left over
    proc = cli("compare-sweeps", str(ref), str(other))
    assert proc.returncode == 0 and "2 of 2 jobs identical" in proc.stdout, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, artifacts, tiny_dir, clips_dir) -> Path:
    assert tiny_dir.parent == artifacts == clips_dir.parent
    out = tmp_path_factory.mktemp("local") / "sweep"
    t0 = time.time()
    proc = cli(*sweep_args(out, artifacts))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"local sweep of {JOBS}: {time.time() - t0:.0f}s")
    return out


# --- unit checks (default suite) -------------------------------------------------------------

def test_rank_files_merge_in_document_order(tmp_path):
    """Rows of two ranks (lmms-eval's interleaved doc shards) become one file in the order of a
    single process; rank files are removed; an existing records.jsonl is appended to."""
    tasks = ["seats_fixture_worldsense", "seats_fixture_dailyomni"]
    (tmp_path / "records.jsonl").write_text(json.dumps({"task": "earlier", "doc_id": 0}) + "\n")
    for rank in (0, 1):
        with open(tmp_path / parallel.row_file("records", rank, 2), "w") as f:
            for task in reversed(tasks):
                for doc in range(rank, 5, 2):
                    f.write(json.dumps({"task": task, "doc_id": doc}) + "\n")
    (tmp_path / parallel.row_file("failures", 1, 2)).write_text(
        json.dumps({"task": tasks[1], "doc_id": 3, "error": "DataError: x"}) + "\n")
    merged = parallel.merge_rank_files(tmp_path, 2, tasks)
    assert merged == {"records": 10, "failures": 1}
    got = [(r["task"], r["doc_id"]) for r in map(json.loads, (tmp_path / "records.jsonl").read_text().splitlines())]
    assert got == [("earlier", 0)] + [(t, d) for t in tasks for d in range(5)]
    assert json.loads((tmp_path / "failures.jsonl").read_text())["doc_id"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failures.jsonl", "records.jsonl"]
    assert parallel.row_file("records", 0, 1) == "records.jsonl"  # one process: unchanged


def test_padding_requests_and_rank_devices():
    class Req:
        def __init__(self, metadata):
            self.metadata = metadata

    assert parallel.is_padding(Req({"__padding_only__": True}))
    assert not parallel.is_padding(Req({"task": "t"})) and not parallel.is_padding(Req(None))

    class Acc:
        device = "cuda:3"

    assert str(parallel.rank_device(Acc(), None)) == "cuda:3"
    assert str(parallel.rank_device(Acc(), "cuda")) == "cuda:3"  # the generic default is per rank
    assert str(parallel.rank_device(Acc(), "cpu")) == "cpu"
    with pytest.raises(Exception, match="under data parallel"):
        parallel.rank_device(Acc(), "cuda:0")


def test_accelerate_command_has_multi_gpu_and_a_port():
    acc = sw.load_spec("table3_tiny", launcher="accelerate", num_processes=2)
    argv = sw.lmms_eval_argv(acc, acc.jobs[0], Path("/o"), port=29611)
    i = argv.index("launch")
    assert argv[i + 1:i + 6] == ["--multi_gpu", "--num_processes", "2", "--main_process_port", "29611"]
    one = sw.load_spec("table3_tiny", launcher="accelerate", num_processes=1)
    assert "--multi_gpu" not in sw.lmms_eval_argv(one, one.jobs[0], Path("/o"), port=1)


def test_sbatch_resources_come_from_options_or_the_spec(tmp_path):
    assert array_ranges([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8" and array_ranges([3]) == "3"
    s = sw.load_spec("table3_tiny", out=str(tmp_path / "o"))
    jobs = sw.select_jobs(s, None, "full,seats*,divprune_R35*")
    text = sw.write_slurm(s, tmp_path / "a.sbatch", jobs=jobs, gpus=0, cpus=1, time_limit="00:20:00").read_text()
    assert "#SBATCH --array=0-1,9\n" in text and "#SBATCH --cpus-per-task=1\n" in text
    assert "--gres" not in text and "#SBATCH --time=00:20:00\n" in text and "#SBATCH --partition" not in text
    s.slurm = {"gpus": 2, "cpus_per_task": 12, "partition": "gpu", "mem": "200G", "time": "8:00:00"}
    text = sw.write_slurm(s, tmp_path / "b.sbatch").read_text()
    for line in ("--gres=gpu:2", "--cpus-per-task=12", "--partition=gpu", "--mem=200G", "--time=8:00:00",
                 f"--array=0-{len(s.jobs) - 1}"):
        assert f"#SBATCH {line}\n" in text
    assert "#SBATCH --cpus-per-task=3\n" in sw.write_slurm(s, tmp_path / "c.sbatch", cpus=3).read_text()


def deal(videos: dict[str, list[str]], world: int) -> list[parallel.Work]:
    """lmms-eval's deal: each task's documents round-robin (doc i to rank i mod W), a rank's
    requests task after task, then padding copies of each rank's last request to equal counts.
    `videos[task][doc]` is the document's video ("" for none)."""
    per_rank: list[list[tuple]] = [[] for _ in range(world)]
    for task, docs in videos.items():
        for doc, video in enumerate(docs):
            per_rank[doc % world].append((task, doc, video))
    most = max(map(len, per_rank))
    out = []
    for rank, mine in enumerate(per_rank):
        mine = mine + [mine[-1] + ("pad",)] * (most - len(mine)) if mine else []  # nothing to copy: none
        for i, (task, doc, video, *pad) in enumerate(mine):
            out.append(parallel.Work(rank, i, task, "test", doc, {"max_new_tokens": 4}, 0, 1234,
                                     (task, "test", video) if video and not pad else None, bool(pad)))
    return out


def check_plan(works: list[parallel.Work], world: int) -> list[list[list[parallel.Work]]]:
    plan = parallel.assign(works, world)
    assert parallel.assign(list(reversed(works)), world) == plan  # the same on every rank, whatever the order
    computed = [w for groups in plan for g in groups for w in g]
    real = [w for w in works if not w.padding]
    assert sorted(computed, key=lambda w: (w.rank, w.index)) == sorted(real, key=lambda w: (w.rank, w.index))
    assert len(computed) == len(real)  # each exactly once, padding never
    where: dict = {}
    for rank, groups in enumerate(plan):
        for g in groups:
            assert len({w.video for w in g}) == 1 and (g[0].video is not None or len(g) == 1)
            assert [w.doc_id for w in g] == sorted(w.doc_id for w in g)  # one process's order
            assert any(w.rank == rank and w.task == g[0].task for w in works)  # it holds the task
            for w in g:
                if w.video is not None:
                    assert where.setdefault(w.video, rank) == rank  # a video on one rank
    # balanced: each rank's last group (largest groups placed first, each on the least loaded
    # rank holding its task) went where the load before it was the least of its task's holders
    loads = [sum(map(len, groups)) for groups in plan]
    for rank, groups in enumerate(plan):
        assert not groups or any(loads[rank] - len(g) <= min(loads[w.rank] for w in works if w.task == g[0].task)
                                 for g in groups), (loads, rank)
    return plan


def test_assignment_puts_a_videos_requests_on_one_rank():
    """Each video's questions dealt over the ranks come back together on one rank, every
    request computed once, the ranks balanced; the same plan whatever the input order."""
    # 3 questions on each of 4 videos (Video-MME's layout), consecutive docs: dealt over 2 ranks
    videos = {"t3": [f"v{d // 3}" for d in range(12)], "t1": [f"w{d}" for d in range(5)]}
    plan = check_plan(deal(videos, 2), 2)
    assert [sum(map(len, groups)) for groups in plan] == [9, 8]
    assert sorted(len(g) for g in plan[0] + plan[1] if g[0].task == "t3") == [3, 3, 3, 3]
    # a video's 2nd question was dealt to rank 1, its 1st to rank 0: computed on one of them
    g = next(g for groups in plan for g in groups if g[0].video == ("t3", "test", "v0"))
    assert {w.rank for w in g} == {0, 1} and [w.doc_id for w in g] == [0, 1, 2]
    import random

    rng = random.Random(0)
    for world in (2, 3, 4):
        for _ in range(20):
            tasks = {f"t{k}": [rng.choice(["", "a", "b", "c", "d", "e"]) for _ in range(rng.randint(1, 9))]
                     for k in range(rng.randint(1, 3))}
            check_plan(deal(tasks, world), world)


def test_assignment_only_to_ranks_holding_the_task_and_padding():
    """A task with one document lives on rank 0 only (only it has the task's doc_to_messages):
    its group goes there even when rank 0 is the busier one; rank 1's padding copy is answered
    with its original's answer, never computed."""
    works = deal({"big": ["v"] * 4, "one": ["solo"]}, 2)
    assert [w.padding for w in works if w.rank == 1] == [False, False, True]
    plan = check_plan(works, 2)
    assert [[w.task for w in g] for g in plan[0]] == [["big"] * 4, ["one"]]
    assert plan[1] == []
    assert parallel.padding_sources([w for w in works if w.rank == 1]) == {2: 1}
    assert parallel.padding_sources([w for w in works if w.rank == 0]) == {}
    orphan = parallel.Work(1, 0, "big", "test", 7, {}, padding=True)
    with pytest.raises(RuntimeError, match="no original"):
        parallel.padding_sources([orphan])


class Ranks:
    """W ranks as threads of this process: accelerate's `gather_object` (rank order, lists
    flattened) and `wait_for_everyone` on a barrier, so `generate_until`'s data-parallel path
    runs without launching processes."""

    def __init__(self, world: int) -> None:
        import threading

        self.world, self.barrier, self.slots, self.local = world, threading.Barrier(world), [None] * world, threading.local()

    def gather_object(self, obj: list) -> list:
        self.slots[self.local.rank] = obj
        self.barrier.wait()
        out = [x for slot in self.slots for x in slot]
        self.barrier.wait()  # every rank has read before the next exchange overwrites
        return out

    def wait_for_everyone(self) -> None:
        self.barrier.wait()

    def run(self, fn) -> list:
        import threading

        results, errors = [None] * self.world, []

        def one(rank: int) -> None:
            self.local.rank = rank
            try:
                results[rank] = fn(rank)
            except BaseException as exc:  # re-raised below, in the test's thread
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=one, args=(r,)) for r in range(self.world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


def test_data_parallel_threads_compute_a_video_on_one_rank(tiny_dir, clips_dir, tmp_path, monkeypatch):
    """`generate_until` on two ranks (threads; lmms-eval's deal and padding copy) with prefix
    sharing, sampling: each rank gets its own requests' answers in its order, equal to one process's,
    and the merged records equal one process's, sharing included (the 2nd question on a video
    was dealt to the other rank)."""
    from types import SimpleNamespace

    import accelerate.utils

    from seats_eval.models.ids import Model_divprune_qwen25omni

    # sampled (each sample's own seeded stream): whichever rank computes it, it draws as in one process
    sampled = {"max_new_tokens": 4, "temperature": 1.0}
    videos = ["av_moving", "av_moving", "video_only"]  # dealt: rank 0 docs 0, 2; rank 1 doc 1 + a padding copy
    docs = {i: {"video": str(clips_dir / f"{v}.mp4"), "text": f"Question {i}? A. a B. b C. c D. d"}
            for i, v in enumerate(videos)}

    def doc_to_messages(doc: dict) -> list[dict]:  # one per task, as lmms-eval's task object gives it
        return [{"role": "user", "content": [{"type": "video", "url": doc["video"]},
                                             {"type": "text", "text": doc["text"]}]}]

    def request(doc_id: int, padding: bool = False) -> SimpleNamespace:
        return SimpleNamespace(args=(docs[doc_id]["text"], doc_to_messages, sampled, doc_id, "mcq", "test"),
                               metadata={"__padding_only__": True} if padding else {})

    def model(record_dir: Path) -> Model_divprune_qwen25omni:
        m = Model_divprune_qwen25omni(pretrained=str(tiny_dir), R=0.35, record_dir=str(record_dir), max_frames=4)
        m.task_dict = {"mcq": {"test": docs}}
        return m

    one = model(tmp_path / "one")
    alone = [r.text for r in one.generate_until([request(i) for i in docs])]
    ranks = Ranks(2)
    monkeypatch.setattr(accelerate.utils, "gather_object", ranks.gather_object)
    dealt = [[request(0), request(2)], [request(1), request(1, padding=True)]]
    models = [model(tmp_path / "two") for _ in range(2)]
    for rank, m in enumerate(models):
        m._rank, m._world_size, m.accelerator = rank, 2, ranks

    got = ranks.run(lambda rank: [r.text for r in models[rank].generate_until(dealt[rank])])
    assert got == [[alone[0], alone[2]], [alone[1], alone[1]]]
    ra, rb = rows(tmp_path / "one" / "records.jsonl"), rows(tmp_path / "two" / "records.jsonl")
    assert ra == rb and [r["doc_id"] for r in rb] == [0, 1, 2]
    assert [r["shared_prefix_tokens"] > 0 for r in rb] == [False, True, False]
    # the work went by video: av_moving's 2 questions on rank 0, video_only's (dealt to rank 0) on rank 1
    assert [[r["doc_id"] for r in m.records] for m in models] == [[0, 1], [2]]


# --- end to end (slow; CI runs them) -------------------------------------------------------

@pytest.mark.slow
def test_two_process_data_parallel_equals_one_process(local_sweep, artifacts, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` (gloo on the CPU) through the sweep's
    accelerate launcher: the same answers and records as one process."""
    out = tmp_path / "dp"
    t0 = time.time()
    proc = cli(*sweep_args(out, artifacts), "--launcher", "accelerate", "--num_processes", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"2-process data-parallel sweep of {JOBS}: {time.time() - t0:.0f}s")
    for job in JOBS.split(","):
        log = (out / "jobs" / job / "result" / "log.txt").read_text()
        assert "Running on rank 1" in log and "--multi_gpu" in (out / "jobs" / job / "result" / "command.txt").read_text()
    assert_same_results(local_sweep, out)


SHARED_TASK = "seats_fixture_mcq_shared"
# the video of each document: lmms-eval deals docs 0, 2, 4 to rank 0 and 1, 3 (and a padding
# copy of 3) to rank 1, so the 2nd question on each video (docs 1 and 3) is dealt to the other rank
SHARED_VIDEOS = ["av_moving", "av_moving", "video_only", "video_only", "av_moving"]


def shared_task(folder: Path) -> Path:
    """The fixture multiple-choice task (tasks/fixture_mcq) with several questions per video,
    written to `folder` (the fixture tasks ask one question per video: nothing to share)."""
    import pandas as pd

    folder.mkdir(parents=True)
    rows = pd.read_parquet(REPO / "tasks" / "fixtures" / "mcq" / "test-00000-of-00001.parquet").to_dict("records")
    docs = [{**rows[i % len(rows)], "question_id": i, "video": v} for i, v in enumerate(SHARED_VIDEOS)]
    pd.DataFrame(docs).to_parquet(folder / "test.parquet")
    shutil.copy(REPO / "tasks" / "fixture_mcq" / "utils.py", folder / "utils.py")
    text = (REPO / "tasks" / "fixture_mcq" / "seats_fixture_mcq.yaml").read_text()
    text = text.replace("task: seats_fixture_mcq\n", f"task: {SHARED_TASK}\n")
    text = text.replace("../fixtures/mcq/test-00000-of-00001.parquet", str(folder / "test.parquet"))
    assert f"task: {SHARED_TASK}" in text and str(folder) in text
    (folder / f"{SHARED_TASK}.yaml").write_text(text)
    return folder


def eval_shared(tasks: Path, out: Path, tiny_dir: Path, clips_dir: Path, processes: int, sharing: bool = True,
                model: str = "divprune_qwen25omni") -> Path:
    """`seats-eval eval` of the shared task (default DivPrune: a pre-LLM method, so its whole
    prefix is shared), in one process or under `accelerate launch`; returns the record folder."""
    args = ["-m", "seats_eval.cli", "eval", "--model", model, "--model_args",
            f"pretrained={tiny_dir},R=0.35,max_new_tokens=4,max_frames=4,record_dir={out / 'records'},"
            f"prefix_sharing={sharing}", "--tasks", SHARED_TASK, "--include_path", str(tasks),
            "--output_path", str(out / "output"), "--batch_size", "1", "--log_samples"]
    if processes > 1:
        from seats_eval.sweep.launchers import free_port

        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
               str(processes), "--main_process_port", str(free_port()), *args]
    else:
        cmd = [sys.executable, *args]
    env = dict(os.environ, SEATS_FIXTURE_CLIPS=str(clips_dir), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    if processes > 1:
        assert "rank 1" in proc.stdout + proc.stderr  # really two processes
    return out


def logged(out: Path) -> dict[int, object]:
    files = list((out / "output").rglob(f"*_samples_{SHARED_TASK}.jsonl"))
    assert len(files) == 1, files
    return {d["doc_id"]: d for d in map(json.loads, files[0].read_text().splitlines())}  # answer, scores, prompt


@pytest.mark.slow
def test_two_process_data_parallel_shares_a_videos_prefix(tiny_dir, clips_dir, tmp_path):
    """Prefix sharing under data parallel: each video's questions, dealt by lmms-eval to both
    ranks, are computed on one rank (the 2nd question on a video prefills only its suffix) and
    every rank returns its own answers: answers and records equal one process's, including
    which questions shared; with prefix_sharing=false the ranks share nothing, same answers."""
    tasks = shared_task(tmp_path / "task")
    one = eval_shared(tasks, tmp_path / "one", tiny_dir, clips_dir, 1)
    two = eval_shared(tasks, tmp_path / "two", tiny_dir, clips_dir, 2)
    ra, rb = rows(one / "records" / "records.jsonl"), rows(two / "records" / "records.jsonl")
    # one process writes rows video after video (docs 0, 1, 4, 2, 3); the merge, in document order
    assert [r["doc_id"] for r in ra] == [0, 1, 4, 2, 3] and [r["doc_id"] for r in rb] == [0, 1, 2, 3, 4]
    ra = sorted(ra, key=lambda r: r["doc_id"])
    assert ra == rb
    assert [r["shared_prefix_tokens"] > 0 for r in rb] == [False, True, False, True, True]
    assert not list((two / "records").glob("*.rank*.jsonl")) and not (two / "records" / "failures.jsonl").exists()
    assert logged(one) == logged(two) and len(logged(two)) == len(SHARED_VIDEOS)
    off = eval_shared(tasks, tmp_path / "off", tiny_dir, clips_dir, 2, sharing=False)
    ro = rows(off / "records" / "records.jsonl")
    assert all(r["shared_prefix_tokens"] == 0 for r in ro) and [r["answer"] for r in ro] == [r["answer"] for r in ra]
    assert logged(off) == logged(one)


def _slurm_possible() -> str | None:
    """Why the real-Slurm test cannot run here (None: it can)."""
    flag = os.environ.get("SEATS_SLURM_TEST")
    if flag == "0":
        return "SEATS_SLURM_TEST=0"
    if flag == "1":
        return None
    if os.geteuid() != 0:
        return "needs root (apt-get, munge, the Slurm daemons); SEATS_SLURM_TEST=1 forces it"
    if not (shutil.which("sbatch") and shutil.which("slurmctld")) and not shutil.which("apt-get"):
        return "no Slurm and no apt-get to install it"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_slurm_possible() is not None, reason=str(_slurm_possible()))
def test_slurm_array_on_a_real_slurm_equals_a_local_sweep(local_sweep, artifacts, tmp_path_factory):
    """scripts/slurm_local.sh starts a single-node Slurm (installed from Debian's packages when
    missing); the sweep's `--slurm` script (CPU resources from the flags: no gres, 1 CPU per
    task, so both array tasks run at once and share one encoder cache) is submitted with
    sbatch; every array task must complete and the results equal the local sweep's."""
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SEATS_SLURM_DIR=str(state), SLURM_CONF=str(state / "slurm.conf"))
    t0 = time.time()
    up = subprocess.run(["bash", str(REPO / "scripts" / "slurm_local.sh"), "start"], capture_output=True,
                        text=True, timeout=900, env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    print(f"slurm_local.sh start: {time.time() - t0:.0f}s: {up.stdout.strip()}")
    try:
        out = state / "sweep"
        script = state / "t3.sbatch"
        made = cli(*sweep_args(out, artifacts), "--slurm", str(script), "--slurm-gpus", "0",
                   "--slurm-cpus", "1", "--slurm-time", "00:30:00", env=env)
        assert made.returncode == 0, made.stdout + made.stderr
        text = script.read_text()
        assert "#SBATCH --array=0-1\n" in text and "--gres" not in text
        t1 = time.time()
        sub = subprocess.run(["sbatch", "--parsable", "--wait", str(script)], capture_output=True, text=True,
                             timeout=1200, env=env)
        job_id = sub.stdout.strip().split(";")[0]
        shown = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True,
                               env=env).stdout
        logs = "\n".join(p.read_text()[-3000:] for p in sorted((out / "slurm").glob("*.out")))
        assert sub.returncode == 0, sub.stdout + sub.stderr + shown + logs
        tasks = [ln for ln in shown.splitlines() if "ArrayTaskId=" in ln]
        assert len(tasks) == 2 and all("JobState=COMPLETED" in ln for ln in tasks), shown
        print(f"sbatch --wait of the 2-task array: {time.time() - t1:.0f}s")
        status = cli(*sweep_args(out, artifacts), "--status", env=env)
        assert status.stdout.count(" done ") == 2, status.stdout
        assert_same_results(local_sweep, out)
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "slurm_local.sh"), "stop"], env=env, timeout=60)
