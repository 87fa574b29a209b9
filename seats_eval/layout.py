"""TokenLayout: what every position of a Qwen-Omni input sequence is.

The one place that knows how Qwen-Omni interleaves a video with its audio track: per
2-second chunk the processor emits that chunk's video tokens (2 temporal grids at 2 fps for
Qwen2.5-Omni), then its audio tokens (25 per second). Chunks are cut by temporal position
value, so a video token of temporal grid t falls in window floor(t * second_per_grid / 2)
and audio token k in window k // audio_tokens_per_window. Everything is computed with
tensor ops from `input_ids` and the grids; methods and the runtime only read this object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .errors import LayoutError

TEXT, VIDEO, AUDIO = 0, 1, 2


@dataclass(frozen=True)
class TokenLayout:
    """Per-position metadata of one sample (batch size 1); tensors live on one device.

    modality: (S,) 0 text, 1 video, 2 audio. window: (S,) 2-s window id, -1 for text.
    frame: (S,) temporal-grid index of a video token, -1 otherwise.
    spatial: (S,) raster index of a video token inside its grid, -1 otherwise.
    position: (S,) index of the token in the original, unpruned sequence.
    """

    modality: torch.Tensor
    window: torch.Tensor
    frame: torch.Tensor
    spatial: torch.Tensor
    position: torch.Tensor
    num_windows: int
    tokens_per_grid: int  # merged video tokens per temporal grid (h*w / merge^2)
    # the most maximal runs of one modality in the LLM input (`run_windows`): dropping tokens
    # only merges or removes runs, so it bounds every subset's count without a read
    num_runs: int = 0
    # (text, video, audio) counts already known on the host (set by the pruning runtime),
    # so that `count` reads nothing from the device inside the decoder loop.
    known_counts: tuple[int, int, int] | None = None

    @property
    def length(self) -> int:
        return int(self.modality.numel())

    def mask(self, modality: int) -> torch.Tensor:
        return self.modality == modality

    @property
    def text_mask(self) -> torch.Tensor:
        return self.modality == TEXT

    def counts(self) -> tuple[int, int, int]:
        """(text, video, audio) token counts: the recorded ones, else one bincount (one
        host read for all three modalities)."""
        if self.known_counts is not None:
            return self.known_counts
        c = torch.bincount(self.modality, minlength=3).tolist()
        return int(c[TEXT]), int(c[VIDEO]), int(c[AUDIO])

    def counts_in(self, keep: torch.Tensor) -> tuple[int, int, int]:
        """(text, video, audio) counts of the positions `keep` (S,) bool marks: one scatter and
        ONE host read of three numbers (a device sync; the runtime's read when a method's
        kept counts depend on the scores)."""
        c = torch.zeros(3, dtype=torch.long, device=self.modality.device)
        c.index_add_(0, self.modality, keep.to(torch.long))
        t, v, a = c.tolist()
        return int(t), int(v), int(a)

    def count(self, modality: int) -> int:
        return self.counts()[modality]

    def with_counts(self, counts: tuple[int, int, int] | None = None) -> TokenLayout:
        """The same layout with its counts recorded on the host (given, or read once now),
        so later `count` calls inside the decoder loop read nothing from the device."""
        c = self.counts() if counts is None else counts
        return replace(self, known_counts=(int(c[TEXT]), int(c[VIDEO]), int(c[AUDIO])))

    def window_counts(self, modality: int) -> torch.Tensor:
        """(num_windows,) number of tokens of `modality` in each window."""
        sel = self.modality == modality
        out = torch.zeros(self.num_windows, dtype=torch.long, device=self.window.device)
        if self.num_windows:  # masked scatter, no boolean indexing: no device sync
            out.scatter_add_(0, torch.where(sel, self.window, 0), sel.to(torch.long))
        return out

    def window_matrix(self, modality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, n_max) positions of `modality` tokens per window (padding -1) and the valid mask."""
        return group_matrix(self.window, self.modality == modality, self.num_windows)

    def frame_matrix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(F, n) positions of the video tokens of each temporal grid ("frame" in the LLM)."""
        video = self.modality == VIDEO
        frames = int(self.frame[video].max()) + 1 if bool(video.any()) else 0
        return group_matrix(self.frame, video, frames)

    def subset(self, keep: torch.Tensor) -> TokenLayout:
        """The layout of the kept positions (boolean mask or index tensor), order preserved."""
        return replace(
            self,
            modality=self.modality[keep],
            window=self.window[keep],
            frame=self.frame[keep],
            spatial=self.spatial[keep],
            position=self.position[keep],
            known_counts=None,
        )

    def describe(self) -> dict:
        return {
            "length": self.length,
            "text": self.count(TEXT),
            "video": self.count(VIDEO),
            "audio": self.count(AUDIO),
            "windows": self.num_windows,
        }


def run_windows(modality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' Stage II windows (profile=official): (window id per position (S,), -1 off
    media; number of windows, a 0-dim tensor on the same device: no read) from the maximal
    contiguous runs of each modality. Video run i and audio run i form window i; surplus runs
    of one modality are windows of their own (so run index = window index)."""
    win = torch.full_like(modality, -1)
    count = torch.zeros((), dtype=torch.long, device=modality.device)
    for mod in (VIDEO, AUDIO):
        member = modality == mod
        start = member & ~torch.cat([member.new_zeros(1), member[:-1]])
        win = torch.where(member, torch.cumsum(start.long(), 0) - 1, win)
        count = torch.maximum(count, start.sum())
    return win, count


def group_matrix(group: torch.Tensor, member: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, n_max) positions of the member tokens of each group (padding -1) and the valid mask.

    Built with one scatter: members of a group appear contiguously in sequence order (windows,
    frames and tiles do), so a token's rank inside its group is its index minus the group's
    start."""
    pos = torch.nonzero(member).flatten()
    dev = member.device
    if pos.numel() == 0 or num_groups == 0:
        return (torch.full((num_groups, 0), -1, dtype=torch.long, device=dev),
                torch.zeros(num_groups, 0, dtype=torch.bool, device=dev))
    g = group[pos]
    counts = torch.bincount(g, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(pos.numel(), device=dev) - starts[g]
    mat = torch.full((num_groups, int(counts.max())), -1, dtype=torch.long, device=dev)
    mat[g, rank] = pos
    return mat, mat >= 0


def build_layout(
    input_ids: torch.Tensor,
    *,
    video_token_id: int,
    audio_token_id: int,
    video_grid_thw: torch.Tensor | None = None,
    spatial_merge_size: int = 2,
    second_per_grid: float = 1.0,
    window_seconds: float = 2.0,
    audio_tokens_per_window: int = 50,
    sample: str = "",
) -> TokenLayout:
    """Build the layout of one sequence. `input_ids` is (S,) or (1, S).

    The video token count must equal the grid's merged-token count; otherwise the sequence
    was not produced by the processor we model and a LayoutError names the sample.
    """
    ids = input_ids.reshape(-1)
    device = ids.device
    S = ids.numel()
    modality = torch.zeros(S, dtype=torch.long, device=device)
    is_video = ids == video_token_id
    is_audio = ids == audio_token_id
    modality[is_video] = VIDEO
    modality[is_audio] = AUDIO
    window = torch.full((S,), -1, dtype=torch.long, device=device)
    frame = torch.full((S,), -1, dtype=torch.long, device=device)
    spatial = torch.full((S,), -1, dtype=torch.long, device=device)

    n_video = int(is_video.sum())
    tokens_per_grid = 0
    if n_video:
        if video_grid_thw is None:
            raise LayoutError(f"{sample}: video tokens present but no video_grid_thw")
        grid = video_grid_thw.reshape(-1, 3)
        if grid.shape[0] != 1:
            raise LayoutError(f"{sample}: one video per sample supported, got {grid.shape[0]}")
        t, h, w = (int(x) for x in grid[0])
        tokens_per_grid = h * w // spatial_merge_size**2
        if t * tokens_per_grid != n_video:
            raise LayoutError(
                f"{sample}: {n_video} video tokens but grid {t}x{h}x{w} gives {t * tokens_per_grid}"
            )
        k = torch.arange(n_video, device=device)
        grid_idx = k // tokens_per_grid
        frame[is_video] = grid_idx
        spatial[is_video] = k % tokens_per_grid
        window[is_video] = torch.floor(grid_idx * second_per_grid / window_seconds + 1e-9).long()
    n_audio = int(is_audio.sum())
    if n_audio:
        k = torch.arange(n_audio, device=device)
        window[is_audio] = k // audio_tokens_per_window

    media = modality != TEXT
    num_windows = int(window.max()) + 1 if bool(media.any()) else 0
    if bool(media.any()):
        # Interleaving check: windows never go back in time along the sequence.
        w_seq = window[media]
        if bool((w_seq[1:] < w_seq[:-1]).any()):
            raise LayoutError(f"{sample}: video/audio tokens are not interleaved per window")
    return TokenLayout(
        modality=modality,
        window=window,
        frame=frame,
        spatial=spatial,
        position=torch.arange(S, device=device),
        num_windows=num_windows,
        tokens_per_grid=tokens_per_grid,
        num_runs=int(run_windows(modality)[1]),
    )
