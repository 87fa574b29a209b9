"""Stable stratified subsets of the five benchmarks (the `seats_subset_<bench>` tasks).

A subset must hold the same questions on every machine, whatever the order (or, as far as
possible, the version) of the downloaded release, and keep each benchmark's category mix:

- every question has a key (`question_key`: the release's question id, or for
  OmniVideoBench, which has none, its video and question text), hashed with SHA-256
  (`question_hash`: Python's `hash` is salted per process, so it cannot serve);
- the subset size of a benchmark (`SUBSETS`, sized for about one GPU-hour per backbone:
  docs/regression.md) is split over the categories of its category field in proportion to
  their sizes by largest remainder (`select.apportion`, categories in sorted order), so each
  category's count is within one question of size * N_c / N;
- inside a category the questions whose hashes are the smallest are kept, i.e. those below
  a per-category threshold. A question added to a release displaces at most two: the one
  whose hash sits at its category's threshold, and one where the largest-remainder quotas
  move a slot between two other categories.

`subset_docs` is lmms-eval's `process_docs` (a `datasets.Dataset` in, the kept rows out, in
their original order); tasks/subsets/ holds the task YAMLs and their fixture twins.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seats_eval.errors import ConfigError, DataError


@dataclass(frozen=True)
class SubsetSpec:
    """How one benchmark's subset is drawn: the key fields, the category field, the size."""

    id_fields: tuple[str, ...]
    category: str
    size: int


# Sizes: docs/regression.md has the arithmetic (questions x seconds per sample, Table 4).
SUBSETS: dict[str, SubsetSpec] = {
    "worldsense": SubsetSpec(("index",), "task_type", 150),
    "dailyomni": SubsetSpec(("question_id",), "Type", 150),
    "omnivideobench": SubsetSpec(("video", "question"), "question_type", 75),
    "videomme": SubsetSpec(("question_id",), "duration", 30),
    "lvomnibench": SubsetSpec(("question_id",), "question_type", 30),
}
# The fixture twins (4 records each): 3 of them, stratified the same way.
FIXTURE_SIZE = 3


def _spec(bench: str) -> SubsetSpec:
    try:
        return SUBSETS[bench]
    except KeyError:
        raise ConfigError(f"no subset defined for benchmark {bench!r}: known {', '.join(SUBSETS)}") from None


def question_key(bench: str, doc: Mapping[str, Any]) -> str:
    """The question's identity across machines and releases (a missing field: DataError)."""
    parts = []
    for name in _spec(bench).id_fields:
        value = doc.get(name)
        if value is None or str(value).strip() == "":
            raise DataError(f"{bench}: a record has no {name!r} (needed for the stable subset): {dict(doc)!r:.200}")
        parts.append(str(value).strip())
    return "\x1f".join(parts)


def question_hash(bench: str, key: str) -> int:
    """The 64-bit SHA-256 prefix of bench + key (stable across processes and machines)."""
    return int.from_bytes(hashlib.sha256(f"{bench}\x1e{key}".encode()).digest()[:8], "big")


def category_quotas(sizes: Mapping[str, int], total: int) -> dict[str, int]:
    """Questions per category: `total` split in proportion to `sizes` (largest remainder,
    categories in sorted order so the split does not depend on the data's order)."""
    import torch

    from seats_eval.select.apportion import apportion

    names = sorted(sizes)
    n = torch.tensor([sizes[c] for c in names], dtype=torch.long)
    parts = apportion(n.double(), min(int(total), int(n.sum())), n)
    return dict(zip(names, (int(x) for x in parts), strict=True))


def select_indices(bench: str, docs: Sequence[Mapping[str, Any]], size: int) -> list[int]:
    """Indices (ascending) of the subset of `docs`: per category the `quota` smallest hashes."""
    spec = _spec(bench)
    groups: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        key = question_key(bench, doc)
        if key in seen:
            raise DataError(f"{bench}: records {seen[key]} and {i} share the question key {key!r}")
        seen[key] = i
        groups[str(doc.get(spec.category))].append((question_hash(bench, key), key, i))
    quotas = category_quotas({c: len(g) for c, g in groups.items()}, size)
    kept = [i for c, g in groups.items() for _, _, i in sorted(g)[:quotas[c]]]
    return sorted(kept)


def subset_docs(bench: str, dataset: Any, size: int | None = None) -> Any:
    """lmms-eval `process_docs`: the stable stratified subset of a `datasets.Dataset`."""
    size = _spec(bench).size if size is None else int(size)
    return dataset.select(select_indices(bench, list(dataset), size))
