"""When to run input validations that read tensor values on the host.

Reading a value (`bool(t.any())`, `int(t.sum())`) forces a GPU to finish its queue: inside
the decoder loop that would stall every drop step. Validations therefore run on CPU tensors
(free there, and what the tests exercise) and skip on accelerators unless asked for.
SEATS_CHECKS: `auto` (default: validate CPU tensors only), `1` (always), `0` (never).
"""

from __future__ import annotations

import os

import torch

MODES = ("auto", "1", "0")


def _valid(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"SEATS_CHECKS must be auto, 1 or 0, got {mode!r}")
    return mode


_MODE = _valid(os.environ.get("SEATS_CHECKS", "auto"))


def set_mode(mode: str) -> str:
    """Set the validation mode (`auto`, `1`, `0`); returns the previous one."""
    global _MODE
    prev, _MODE = _MODE, _valid(mode)
    return prev


def enabled(t: torch.Tensor) -> bool:
    """Whether to validate values of `t` now (see the module docstring)."""
    if _MODE == "auto":
        return t.device.type == "cpu"
    return _MODE == "1"
