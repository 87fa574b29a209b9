"""Devices under model parallelism (`device_map`): where a module computes.

With accelerate's dispatch, a module's inputs are moved to its execution device inside its
forward, after our forward pre-hooks ran; offloaded weights sit on `meta` between calls.
Code that calls a module's pieces directly (the Stage II score projection, the decode
step's embedding) asks here where to put the inputs.
"""

from __future__ import annotations

import torch


def execution_device(module: torch.nn.Module, default: torch.device) -> torch.device:
    """accelerate's execution device of `module` when dispatched, else its weights' device,
    else `default` (no weights, or weights offloaded to `meta`)."""
    hook = getattr(module, "_hf_hook", None)
    for h in getattr(hook, "hooks", (hook,)):  # a SequentialHook holds several
        dev = getattr(h, "execution_device", None)
        if dev is not None:
            return torch.device("cuda", dev) if isinstance(dev, int) else torch.device(dev)
    param = next(module.parameters(), None)
    return default if param is None or param.device.type == "meta" else param.device
