"""The table model: cells of ours beside the paper's numbers, rounded and rendered.

Rules, the same for every table (seats_eval/tables/__init__.py has the whole picture):
a cell of ours is `missing` unless a finished job produced it; rounding is half-up
(scores, Mean, % to 1 decimal; TFLOPs to 1 decimal, 3 significant digits below 1); the
difference is taken between the printed values, so a cell's three numbers agree.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.resources import resource
from ..sweep.spec import REPO
from ..sweep.store import write_text_atomic

PAPER_DIR = resource("paper", check=False)  # the paper's numbers (seats_eval/io/resources.py)
PAPER_FILES = {
    "table3": "table3_qwen25omni.csv",
    "table4": "table4_efficiency_qwen25omni.csv",
    "table5": "table5_ablations_qwen25omni.csv",
    "table8": "table8_qwen3omni.csv",
    "table9": "table9_lambda_qwen25omni.csv",
}
TITLES = {
    "table3": "Table 3: Qwen2.5-Omni-7B, methods x R on five audio-visual benchmarks",
    "table4": "Table 4: efficiency on Qwen2.5-Omni-7B (WorldSense)",
    "table5": "Table 5: ablations of SEATS on Qwen2.5-Omni-7B (R = 35)",
    "table8": "Table 8: Qwen3-Omni-30B-A3B, methods x R on five audio-visual benchmarks",
    "table9": "Table 9: the Stage I scale lambda (SEATS, Qwen2.5-Omni-7B, R = 35)",
}
MISSING = "missing"
NOT_IN_PAPER = "—"


def round_half_up(x: float, decimals: int) -> float:
    """Round like the paper's tables (12.25 -> 12.3), not banker's rounding."""
    q = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP)) + 0.0  # no -0.0


def _sig_decimals(x: float, sig: int = 3) -> int:
    if x == 0:
        return 1
    return max(1, sig - 1 - math.floor(math.log10(abs(x))))


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    decimals: int = 1
    small_sig: bool = False  # below 1: 3 significant digits instead (TFLOPs of the tiny model)

    def decimals_for(self, x: float) -> int:
        if self.small_sig and abs(x) < 1:
            return max(self.decimals, _sig_decimals(x))
        return self.decimals

    def rounded(self, x: float | None) -> float | None:
        return None if x is None else round_half_up(x, self.decimals_for(x))

    def fmt(self, x: float | None) -> str:
        if x is None:
            return ""
        return f"{self.rounded(x):.{self.decimals_for(x)}f}"


def mean_of(values: list[float | None]) -> float | None:
    """Mean when every value is present, else None (never a mean of a subset)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)  # type: ignore[arg-type]


@dataclass
class Row:
    labels: dict[str, str]                      # printed label cells (markdown)
    csv_labels: dict[str, Any]                  # label columns of the CSV
    ours: dict[str, float | None] = field(default_factory=dict)
    paper: dict[str, float | None] = field(default_factory=dict)
    state: str = ""                             # done / failed / skipped / running / not run / not in sweep


@dataclass
class Table:
    kind: str
    title: str
    label_headers: list[tuple[str, str]]        # (key, header) of the label cells
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    banner: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)

    def cell(self, row: Row, col: Column) -> str:
        ours, paper = row.ours.get(col.key), row.paper.get(col.key)
        o = f"**{col.fmt(ours)}**" if ours is not None else MISSING
        if paper is None:
            return f"{o} / {NOT_IN_PAPER}"
        p = f"{paper:.{col.decimals}f}"
        if ours is None:
            return f"{o} / {p}"
        d = round_half_up(col.rounded(ours) - paper, col.decimals)  # type: ignore[operator]
        return f"{o} / {p} ({d:+.{col.decimals}f})"

    def diff(self, row: Row, col: Column) -> float | None:
        ours, paper = row.ours.get(col.key), row.paper.get(col.key)
        if ours is None or paper is None:
            return None
        return round_half_up(col.rounded(ours) - paper, col.decimals)  # type: ignore[operator]

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        if self.banner:
            out += [f"> {line}" for line in self.banner] + [""]
        out += self.about + [""]
        headers = [h for _, h in self.label_headers] + [c.header for c in self.columns]
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "|".join(["---"] * len(self.label_headers) + ["---:"] * len(self.columns)) + "|")
        for row in self.rows:
            cells = [row.labels[k] for k, _ in self.label_headers] + [self.cell(row, c) for c in self.columns]
            out.append("| " + " | ".join(cells) + " |")
        if self.notes:
            out += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        label_keys = list(self.rows[0].csv_labels) if self.rows else [k for k, _ in self.label_headers]
        header = list(label_keys)
        for c in self.columns:
            header += [c.key, f"{c.key}_paper", f"{c.key}_diff"]
        header.append("state")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for row in self.rows:
            line: list[Any] = [row.csv_labels.get(k, "") for k in label_keys]
            for c in self.columns:
                paper = row.paper.get(c.key)
                d = self.diff(row, c)
                line += [c.fmt(row.ours.get(c.key)), "" if paper is None else f"{paper:.{c.decimals}f}",
                         "" if d is None else f"{d:.{c.decimals}f}"]
            line.append(row.state)
            w.writerow(line)
        return buf.getvalue()


def read_paper(kind: str, paper_dir: Path = PAPER_DIR) -> list[dict[str, str]]:
    path = paper_dir / PAPER_FILES[kind]
    if not path.is_file():
        raise ConfigError(f"the paper's numbers for {kind} are missing: {path}")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def paper_number(value: str | None) -> float | None:
    if value is None or str(value).strip() in ("", "–", "-", "—"):
        return None
    return float(value)


def write_table(table: Table, out_dir: Path, name: str | None = None) -> tuple[Path, Path]:
    """Write <out_dir>/<kind>.md and .csv (atomically). A folder of not-real numbers (tiny
    model, fixtures, --limit) gets a `.gitignore` so they are never committed by accident."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if table.banner and out_dir.resolve() != (REPO / "results").resolve():
        gi = out_dir / ".gitignore"
        if not gi.exists():
            gi.write_text("# written by seats-eval tables: not real numbers, never committed\n*\n")
    name = name or table.kind
    md, cs = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    write_text_atomic(md, table.markdown())
    write_text_atomic(cs, table.csv())
    return md, cs
