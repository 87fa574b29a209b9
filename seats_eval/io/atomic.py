"""The one way seats-eval replaces a file: write a temp file in the same folder, flush it to
disk, rename it over the target. A reader (or a crash, a kill -9, a full disk) never leaves
half a file under the target's name: it sees the old file or the new one. A failed write
(disk full, read-only folder) raises OSError naming the file and leaves no temp file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace `path` with `data` atomically (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # name the target, not the temp file (errno keeps the subclass)
            raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}", str(path)) from exc
        raise
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> Path:
    """JSON (sorted keys, a final newline) written atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=True, default=str) + "\n")
