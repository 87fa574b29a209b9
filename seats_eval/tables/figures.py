"""The paper's figures as PNG (matplotlib, Agg backend), from the same data as the tables.

- Fig. 1 (`fig1_tradeoff.png`): TFLOPs vs Mean score per method (Table 3 / 8 rows);
  ours and the paper's side by side in two panels (their scales differ for the tiny model).
- Fig. 4 (`fig4_trr_schedule.png`): per-layer TRR of the SEATS schedule at R = 0.3,
  lambda from the backbone config (reuses `seats-eval schedule`'s plot).
- Fig. 5 (`fig5_lambda.png`): Mean score vs lambda (Table 9), ours and the paper's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..backbones.budgets import Schedule
    from ..sweep.spec import Sweep
    from . import Table


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fig_tradeoff(table: Table, path: Path) -> Path:
    """Fig. 1: one line per method over its R values, x = TFLOPs, y = Mean."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, side, title in ((axes[0], "ours", "ours"), (axes[1], "paper", "paper (published numbers)")):
        series: dict[str, list[tuple[float, float]]] = {}
        for row in table.rows:
            vals = getattr(row, side)
            x, y = vals.get("tflops"), vals.get("mean")
            if x is None or y is None:
                continue
            series.setdefault(row.labels["method"], []).append((x, y))
        cmap = plt.get_cmap("tab20")
        for i, (method, pts) in enumerate(sorted(series.items())):
            pts.sort()
            xs, ys = zip(*pts, strict=True)
            style = {"marker": "*", "markersize": 12} if method in ("SEATS", "Full tokens") else {
                "marker": "os^Dv<>ph"[i % 9]}
            ax.plot(xs, ys, label=method, color=cmap(i % 20), lw=2.2 if method == "SEATS" else 1.0, **style)
        ax.set_title(title + ("" if series else " — no data"))
        ax.set_xlabel("prefill TFLOPs")
        ax.set_ylabel("mean score (%)")
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(table.title + (" — NOT REAL NUMBERS (tiny model / fixtures)" if table.banner else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def fig_schedule(sweep: Sweep, path: Path, R: float = 0.3) -> Path:
    """Fig. 4: the SEATS per-layer TRR for the sweep's backbone config."""
    from ..backbones.budgets import build_schedule, resolve_budget
    from ..backbones.config import load_backbone_config

    cfg = load_backbone_config(sweep.backbone_config or "qwen2.5-omni-7b")
    budget = resolve_budget(R, "both", cfg.video_tokens_per_window, cfg.audio_tokens_per_window,
                            backbone=cfg)
    plot_schedule(build_schedule(budget, cfg), str(path))
    return path


def fig_lambda(table: Table, path: Path) -> Path:
    """Fig. 5: Mean vs lambda, ours and the paper's, with the full-token Mean as a line."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, side, title in ((axes[0], "ours", "ours"), (axes[1], "paper", "paper (published numbers)")):
        pts, full = [], None
        for row in table.rows:
            y = getattr(row, side).get("mean")
            if y is None:
                continue
            if row.labels["method"] == "Full tokens":
                full = y
            elif row.labels["lambda"] not in ("default", "–"):
                pts.append((float(row.labels["lambda"]), y))
        pts.sort()
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", label="SEATS")
        if full is not None:
            ax.axhline(full, color="grey", ls="--", label="full tokens")
        ax.set_title(title + ("" if pts or full is not None else " — no data"))
        ax.set_xlabel("λ")
        ax.set_ylabel("mean score (%)")
        ax.grid(alpha=0.3)
        if pts or full is not None:
            ax.legend(fontsize=8)
    fig.suptitle("Fig. 5: evaluating λ" + (" — NOT REAL NUMBERS" if table.banner else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def figures_for(table: Table, sweep: Sweep, out_dir: Path) -> list[Path]:
    """The figures that go with a table: Fig. 1 + 4 with Table 3, Fig. 1 with 8, Fig. 5 with 9."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if table.kind in ("table3", "table8"):
        suffix = "" if table.kind == "table3" else "_table8"
        written.append(fig_tradeoff(table, out_dir / f"fig1_tradeoff{suffix}.png"))
        if table.kind == "table3":
            written.append(fig_schedule(sweep, out_dir / "fig4_trr_schedule.png"))
    if table.kind == "table9":
        written.append(fig_lambda(table, out_dir / "fig5_lambda.png"))
    return written


def plot_schedule(schedule: Schedule, path: str) -> None:
    """The paper's Fig. 4: per-layer TRR as a step plot for video and audio."""
    plt = _plt()
    L = schedule.num_layers
    layers = list(range(1, L + 1))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, color, ls in (("video", "tab:blue", "-"), ("audio", "tab:orange", "--")):
        ms = schedule.modality(name)
        ax.step(layers, ms.trr, where="mid", color=color, ls=ls, label=f"{name} (R={ms.R:.2f})")
    L_s, L_m1, L_m2, L_l = schedule.boundaries
    for x in (L_s + 0.5, L_m1 - 0.5, L_m2 - 0.5, L_l - 0.5):  # block edges of Table 2
        ax.axvline(x, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("LLM layer")
    ax.set_ylabel("TRR")
    ax.set_xlim(0.5, L + 0.5)
    ax.set_ylim(0, max(max(schedule.video.trr), max(schedule.audio.trr)) * 1.1 + 1e-9)
    b = schedule.budget
    ax.set_title(
        f"{schedule.backbone}: R={b.R:g}, lam={schedule.lam:g}, "
        f"delta_v={schedule.video.delta:.3f} ({schedule.decay})"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
