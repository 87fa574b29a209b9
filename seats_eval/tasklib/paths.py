"""Path safety for data records: a path read from a record is joined under the configured
root and may never leave it (DESIGN.md section 7); the first existing candidate wins."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from seats_eval.errors import MediaError


class UnsafePathError(MediaError, ValueError):
    """A path taken from a data record would leave the configured root."""


def safe_join(root: str | os.PathLike[str], relpath: str) -> Path:
    """`root / relpath` for a path taken from a data record, refusing anything that could
    leave `root`: absolute paths, drive letters, `..` components, NUL bytes, empty paths.
    A leading "./" is fine. Symlinks inside the root are followed as the user set them up."""
    root_path = Path(os.path.abspath(os.fspath(root)))
    rel = str(relpath) if relpath is not None else ""
    shown = f"{root_path}/{rel}"
    if not rel.strip() or "\x00" in rel:
        raise UnsafePathError(shown, "empty or invalid path in the data record")
    if (
        rel.startswith(("/", "\\", "~"))
        or PurePosixPath(rel).is_absolute()
        or PureWindowsPath(rel).is_absolute()
        or PureWindowsPath(rel).drive
    ):
        raise UnsafePathError(
            rel, f"absolute path in the data record; must be relative to {root_path}"
        )
    parts = re.split(r"[\\/]+", rel)
    if any(part == ".." for part in parts):
        raise UnsafePathError(rel, f"'..' in a data-record path; it must stay under {root_path}")
    joined = Path(os.path.normpath(root_path.joinpath(*[p for p in parts if p not in ("", ".")])))
    if joined != root_path and root_path not in joined.parents:
        raise UnsafePathError(rel, f"path escapes {root_path}")
    if joined == root_path:
        raise UnsafePathError(shown, "data-record path names the root folder itself")
    return joined


def resolve_video(root: str | os.PathLike[str], relpaths: Sequence[str], hint: str) -> str:
    """Absolute path of the first existing candidate `root/relpath`; MediaError naming the
    (first) expected path and `hint` (what to set) when none exists."""
    if not relpaths:
        raise ValueError("no candidate video paths given")
    candidates = [safe_join(root, rel) for rel in relpaths]
    for path in candidates:
        if path.is_file():
            return str(path)
    also = ""
    if len(candidates) > 1:
        also = " (also tried " + ", ".join(str(p) for p in candidates[1:]) + ")"
    raise MediaError(str(candidates[0]), f"video file not found{also}; {hint}")
