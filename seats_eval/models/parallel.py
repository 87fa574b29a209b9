"""Data parallel (`accelerate launch --num_processes N`, or torchrun): one model replica per
process, lmms-eval shards the documents by rank and gathers the answers on rank 0.

What seats-eval adds to lmms-eval's own path:
- each process computes on its own device: accelerate's (cuda:LOCAL_RANK; the CPU with
  gloo when no GPU is visible), never a bare "cuda" that would stack every rank on GPU 0;
- each rank appends its per-sample rows to its own file (`records.rank<R>.jsonl`,
  `failures.rank<R>.jsonl`) while it runs, so no two processes write one file;
- at the end of `generate_until` every rank waits for the others (a barrier), then rank 0
  appends the rows of all ranks to `records.jsonl` / `failures.jsonl` in document order
  (the order of a single-process run: tasks as lmms-eval lists them, then doc_id) and
  deletes the rank files. Readers see the same files as after a single-process run.

lmms-eval pads the ranks to equal request counts with copies of a rank's last request
(metadata `__padding_only__`); their answers are discarded by lmms-eval and they write no
row here. A single process (WORLD_SIZE unset or 1) creates no Accelerator and writes
`records.jsonl` directly, as before.

With prefix sharing on (runtime/prefix.py), lmms-eval's round-robin deal (document i to rank
i mod W) would split a video's questions over the ranks. So the ranks exchange plain
descriptions of their requests (`Work`, no closures), every rank computes the same
`assign`ment of whole video groups to ranks, computes its groups (writing their rows), and
the answers are exchanged back so that each rank returns exactly its own requests' answers,
in its own order (models/omni.py `generate_until`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError

RANK_FILES = ("records", "failures")


def world_size_from_env() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def prepare_env() -> None:
    """Before lmms-eval's CLI makes its Accelerator: one of several processes on a machine
    without CUDA asks accelerate for the CPU (ACCELERATE_USE_CPU=1), so the processes form a
    gloo group (MULTI_CPU) instead of each running alone. `seats-eval eval` calls this."""
    if world_size_from_env() > 1 and not torch.cuda.is_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "1")


def make_accelerator() -> Any:
    """accelerate's Accelerator (a process-wide singleton: lmms-eval's CLI made it already)
    when this process is one of several (WORLD_SIZE > 1), else None."""
    if world_size_from_env() <= 1:
        return None
    from accelerate import Accelerator

    acc = Accelerator()
    if acc.num_processes != world_size_from_env():
        raise ConfigError(f"WORLD_SIZE={world_size_from_env()} but accelerate set up {acc.num_processes} "
                          f"process(es) ({acc.distributed_type}); without GPUs set ACCELERATE_USE_CPU=1 "
                          "(`seats-eval eval` does), and launch with `accelerate launch --multi_gpu "
                          "--num_processes N`")
    return acc


def rank_device(acc: Any, requested: str | None) -> torch.device:
    """The device of this rank: accelerate's (cuda:LOCAL_RANK or the CPU). An explicit
    `device=cpu` is kept; any other explicit device is refused (every rank would share it)."""
    dev = torch.device(acc.device)
    if dev.type == "cpu":
        dev = torch.device("cpu")
    if requested is not None and str(requested) not in ("cuda", "auto", str(dev)):
        if str(requested) == "cpu":
            return torch.device("cpu")
        raise ConfigError(f"device={requested} under data parallel: every rank would compute there; "
                          f"leave device unset (this rank's is {dev})")
    return dev


def is_padding(req: Any) -> bool:
    """A copy lmms-eval adds so that every rank runs as many requests (answer discarded)."""
    return bool((getattr(req, "metadata", None) or {}).get("__padding_only__"))


def row_file(name: str, rank: int, world_size: int) -> str:
    """records.jsonl for a single process, records.rank<R>.jsonl under data parallel."""
    return f"{name}.jsonl" if world_size <= 1 else f"{name}.rank{rank}.jsonl"


def doc_order(tasks: Sequence[str]) -> Any:
    """Sort key of a row: its task's position in `tasks`, then doc_id (as a single process
    answers them)."""
    pos = {t: i for i, t in enumerate(tasks)}

    def key(row: dict[str, Any]) -> tuple[int, str, int, str]:
        doc = row.get("doc_id")
        num = doc if isinstance(doc, int) else -1
        return pos.get(row.get("task"), len(pos)), str(row.get("task")), num, str(doc)

    return key


def merge_rank_files(record_dir: Path, world_size: int, tasks: Sequence[str]) -> dict[str, int]:
    """Append every rank's rows to records.jsonl / failures.jsonl in document order and
    delete the rank files (rank 0, after the barrier). Returns rows merged per file."""
    key = doc_order(tasks)
    merged: dict[str, int] = {}
    for name in RANK_FILES:
        parts = [record_dir / row_file(name, r, world_size) for r in range(world_size)]
        rows = [json.loads(line) for p in parts if p.exists() for line in p.read_text().splitlines() if line]
        rows.sort(key=key)
        if rows:
            with open(record_dir / f"{name}.jsonl", "a") as f:
                f.writelines(json.dumps(r, default=str) + "\n" for r in rows)
        for p in parts:
            p.unlink(missing_ok=True)
        merged[name] = len(rows)
    return merged


def finish(acc: Any, rank: int, world_size: int, record_dir: Path | None, tasks: Sequence[str]) -> None:
    """End of generate_until under data parallel: barrier, then rank 0 merges, then barrier
    (no rank goes on before the merged files exist). A single process (lmms-eval gives it an
    Accelerator too) wrote records.jsonl directly: nothing to do."""
    if world_size <= 1 or acc is None or record_dir is None:
        return
    acc.wait_for_everyone()
    if rank == 0:
        merge_rank_files(record_dir, world_size, tasks)
    acc.wait_for_everyone()


# --- a video's requests together (prefix sharing), on one rank under data parallel -----------

def video_groups(keys: Sequence[Any]) -> list[list[int]]:
    """Indices grouped by equal video key (None: a group of its own), groups in the order of
    their first index, indices in order within a group: what one SharedPrefix serves."""
    groups: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(("#alone", i) if key is None else key, []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class Work:
    """One request as every rank sees it: plain data (it crosses processes), enough to run it
    on any rank holding its task's `doc_to_messages`. `seed` is the owner's run seed, so a
    sampled answer draws as in one process whichever rank computes it (runtime/decoding.py)."""

    rank: int  # the rank lmms-eval dealt it to (that rank returns its answer)
    index: int  # its position in that rank's request list
    task: str
    split: str
    doc_id: Any
    gen_kwargs: dict[str, Any] = field(hash=False, compare=False)
    draw: int = 0  # which copy of a repeated request
    seed: int = 0
    video: tuple[str, str, str] | None = None  # (task, split, path); None: runs alone
    padding: bool = False  # lmms-eval's padding copy: answered with its original's answer, not run


def _single_process_order(works: Sequence[Work]) -> list[Work]:
    """The requests in the order one process would run them: tasks as the ranks list them,
    then doc_id, then the repeat (as `doc_order` sorts rows)."""
    tasks = list(dict.fromkeys(w.task for w in sorted(works, key=lambda w: (w.rank, w.index))))
    key = doc_order(tasks)
    return sorted(works, key=lambda w: (key({"task": w.task, "doc_id": w.doc_id}), w.draw))


def assign(works: Sequence[Work], world_size: int) -> list[list[list[Work]]]:
    """Per rank, the video groups it computes (each in one-process order, groups in the order
    of their first request). Every rank calls this on the same gathered `works` and gets the
    same answer: no randomness, no dict order that differs between processes.

    A group (same task, split, video; a request without a video is a group of its own) goes
    whole to one rank: the least loaded (in requests) among the ranks holding some request of
    its task (only they have its `doc_to_messages`: lmms-eval hands it with the requests, and
    the model's `task_dict` has the datasets only), ties to the rank that holds most of the
    group, then the lowest rank. Largest groups are placed first (longest-processing-time
    rule). Padding copies are not computed."""
    real = _single_process_order([w for w in works if not w.padding])
    holders: dict[str, set[int]] = {}
    for w in works:
        holders.setdefault(w.task, set()).add(w.rank)
    groups = [[real[i] for i in g] for g in video_groups([w.video for w in real])]
    first = {id(g): i for i, g in enumerate(groups)}
    load = [0] * world_size
    plan: list[list[list[Work]]] = [[] for _ in range(world_size)]
    for group in sorted(groups, key=lambda g: (-len(g), first[id(g)])):
        owned = [sum(w.rank == r for w in group) for r in range(world_size)]
        rank = min(sorted(holders[group[0].task]), key=lambda r: (load[r], -owned[r], r))
        plan[rank].append(group)
        load[rank] += len(group)
    return [sorted(p, key=lambda g: first[id(g)]) for p in plan]


def padding_sources(works: Sequence[Work]) -> dict[int, int]:
    """For each padding copy of one rank's list (index), the index of the real request it
    copies (same task, split and doc; lmms-eval copies the rank's last request)."""
    real = {(w.task, w.split, w.doc_id): w.index for w in works if not w.padding}
    out = {}
    for w in works:
        if w.padding:
            if (w.task, w.split, w.doc_id) not in real:
                raise RuntimeError(f"padding copy of {w.task}/{w.split}/{w.doc_id} on rank {w.rank} "
                                   "has no original on that rank (lmms-eval copies the rank's last request)")
            out[w.index] = real[(w.task, w.split, w.doc_id)]
    return out
