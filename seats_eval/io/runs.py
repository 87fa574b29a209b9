"""Which run wrote a file: the run id, and the folders and record rows named by it.

Two evaluations started in the same second on one `--output_path` must not share file names
(lmms-eval names its results `<date to the second>_results.json`), and a reused record
folder must not mix two runs' rows. A run id (`<UTC start time>-<host>-<pid>`) names each
run's folder and is written into every record row, beside the model id, method, R and profile.
Under data parallel every rank must find the same id without talking to the others: it is
taken from the launcher process (their common parent: its pid and start time).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

RUN_ID_ENV = "SEATS_RUN_ID"  # set by `seats-eval eval` for the lmms-eval run it starts
RECORDS_FOLDER = "seats_records"  # the default record folder inside a run's output folder


def _started(pid: int) -> float | None:
    """A process's start time (epoch seconds) from /proc; None where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2:].split()[19])
        boot = next(int(ln.split()[1]) for ln in Path("/proc/stat").read_text().splitlines()
                    if ln.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def run_id() -> str:
    """This run's id: $SEATS_RUN_ID, else made from this process (or, under data parallel,
    from the launcher that started every rank)."""
    if os.environ.get(RUN_ID_ENV):
        return os.environ[RUN_ID_ENV]
    pid, started = os.getpid(), time.time()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        parent = os.getppid()
        pid, started = parent, _started(parent) or 0.0
    host = socket.gethostname().split(".")[0] or "host"
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}-{host}-{pid}"
