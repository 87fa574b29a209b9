"""process_docs of the seats_subset_<bench> tasks and their fixture twins: the stable
stratified subset of each benchmark (seats_eval/tasklib/subset.py; sizes and the GPU-time
arithmetic: docs/regression.md). Everything else (prompt, parser, metrics) is the full
task's, included from its folder."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from seats_eval.tasklib import subset
except ModuleNotFoundError:  # a checkout used without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from seats_eval.tasklib import subset


def worldsense_docs(dataset):
    return subset.subset_docs("worldsense", dataset)


def dailyomni_docs(dataset):
    return subset.subset_docs("dailyomni", dataset)


def omnivideobench_docs(dataset):
    return subset.subset_docs("omnivideobench", dataset)


def videomme_docs(dataset):
    return subset.subset_docs("videomme", dataset)


def lvomnibench_docs(dataset):
    return subset.subset_docs("lvomnibench", dataset)


# The fixture twins: 3 of the 4 fixture records, drawn by the same rule.
def worldsense_fixture_docs(dataset):
    return subset.subset_docs("worldsense", dataset, subset.FIXTURE_SIZE)


def dailyomni_fixture_docs(dataset):
    return subset.subset_docs("dailyomni", dataset, subset.FIXTURE_SIZE)


def omnivideobench_fixture_docs(dataset):
    return subset.subset_docs("omnivideobench", dataset, subset.FIXTURE_SIZE)


def videomme_fixture_docs(dataset):
    return subset.subset_docs("videomme", dataset, subset.FIXTURE_SIZE)


def lvomnibench_fixture_docs(dataset):
    return subset.subset_docs("lvomnibench", dataset, subset.FIXTURE_SIZE)
