"""Running jobs: one lmms-eval process per job, under the job's flock, resumable.

The folder of a job and the rules of resuming are in the package docstring. A job's process
runs in its own session and dies with the sweep (PR_SET_PDEATHSIG); whatever a killed sweep
still left running is killed before the job restarts (`kill_orphans`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..io.atomic import write_json_atomic, write_text_atomic
from .jobs import Job
from .launchers import free_port, lmms_eval_argv
from .spec import REPO, Sweep, select_jobs
from .store import UnreadableStatus, _jsonl, _valid_result, job_summary, read_status


class Interrupted(Exception):
    """SIGTERM/SIGINT reached the sweep while a job was running."""


@dataclass
class JobOutcome:
    job: Job
    state: str  # done | failed | skipped | running (elsewhere) | unknown (status.json unreadable)
    message: str = ""
    ran: bool = False
    seconds: float = 0.0


def _registered_ids() -> set[str] | None:
    try:
        from ..models.registry import model_ids

        return set(model_ids())
    except Exception:  # noqa: BLE001 - the registry is optional for the fake-runner tests
        return None


def _die_with(parent: int) -> Callable[[], None]:
    """preexec_fn: the job's process gets SIGKILL when the sweep dies (Linux prctl
    PR_SET_PDEATHSIG), so a killed sweep leaves no orphan writing into its attempt."""

    def _set() -> None:  # pragma: no cover - runs in the child
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
        if os.getppid() != parent:  # the sweep died before prctl took effect
            os._exit(1)

    return _set


def _proc_pgid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[2])
    except (OSError, ValueError, IndexError):
        return None


def kill_orphans(status: dict[str, Any]) -> int:
    """Kill what is left of a killed attempt: processes of its process group on this host
    whose command line names the attempt folder. Returns how many were signalled."""
    pgid, attempt = status.get("pgid"), status.get("attempt")
    if not pgid or not attempt or status.get("host") != socket.gethostname() or not Path("/proc").is_dir():
        return 0
    n = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _proc_pgid(pid) != pgid:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if attempt in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                n += 1
    return n


_ERROR_RE = re.compile(r"(Error during evaluation: .*|\b\w*(Error|Exception)\b: .*)")


def extract_error(log: Path, limit: int = 40) -> str:
    """The most telling error line of a job's log (lmms-eval exits 0 on some failures)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    clean = [re.sub(r"\x1b\[[0-9;]*m", "", ln).rstrip() for ln in lines]
    for ln in reversed(clean):
        m = _ERROR_RE.search(ln)
        if m:
            return m.group(1)[:2000]
    tail = [ln for ln in clean if ln.strip()][-3:]
    return " | ".join(tail)[:2000] if tail else "empty log"


def _log_tail(log: Path, n: int = 20) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [re.sub(r"\x1b\[[0-9;]*m", "", ln)[:500] for ln in lines[-n:]]


class _Lock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a+")  # noqa: SIM115 - held for the job's lifetime

    def acquire(self, wait: bool = False) -> bool:
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def run_job(sweep: Sweep, job: Job, *, force: bool = False, registered: set[str] | None = None,
            echo: Callable[[str], None] = print, waited_since: float | None = None) -> JobOutcome:
    """Run one job (or skip it); never raises for a job's own failure. A job another
    process holds is reported `running`; with `waited_since` (a time), wait for that process
    instead and take its outcome when it ended the job after that time."""
    jdir = sweep.job_dir(job)
    lock = _Lock(jdir / ".lock")
    try:
        if not lock.acquire(wait=waited_since is not None):
            st = read_status(jdir) or {}
            return JobOutcome(job, "running", f"running elsewhere (host {st.get('host')}, pid {st.get('pid')})")
        st = read_status(jdir) or {}
        if waited_since is not None and st.get("key") == job.key and st.get("finished_at", 0) >= waited_since:
            if st.get("state") == "done" and _valid_result(job, jdir / "result")[0]:
                return JobOutcome(job, "done", "done by a concurrent sweep")
            if st.get("state") == "failed":
                return JobOutcome(job, "failed", f"failed in a concurrent sweep: {st.get('error', '')}")
        return _run_locked(sweep, job, jdir, force=force, registered=registered, echo=echo)
    finally:
        lock.close()


def _status(job: Job, state: str, **extra: Any) -> dict[str, Any]:
    ended = {"finished_at": time.time()} if state in ("done", "failed", "skipped") else {}
    return {"state": state, "job": job.name, "key": job.key, "model": job.model, "updated": _now(), **ended,
            **extra}


def _run_locked(sweep: Sweep, job: Job, jdir: Path, *, force: bool, registered: set[str] | None,
                echo: Callable[[str], None]) -> JobOutcome:
    st = read_status(jdir)
    result, attempt = jdir / "result", jdir / "attempt"
    if isinstance(st, UnreadableStatus) and not force:
        kept = f"; the result in {result} is kept" if result.exists() else ""
        return JobOutcome(job, "unknown", f"state unknown: {st.path} is unreadable ({st.error}){kept}; "
                                          "rerun with --force to run the job again")
    if st and st.get("state") == "done" and not force:
        ok, why = _valid_result(job, result)
        if ok:
            return JobOutcome(job, "done", "already done")
        if result.is_dir():  # a finished result that does not verify is kept: nothing finished is lost
            what = "with other settings" if why == "settings differ" else f"that does not verify ({why})"
            return JobOutcome(job, "failed", f"a finished result {what} is in {result}; "
                                             "not overwritten: rerun with --force to replace it")
        echo(f"{job.name}: marked done but its result is gone: running it again")
    if st and st.get("state") == "running":
        # We hold the lock, so whoever wrote this is gone: a killed sweep. Clean up after it.
        n = kill_orphans(st)
        if n:
            echo(f"{job.name}: killed {n} orphaned process(es) of the interrupted attempt")
        ok, _ = _valid_result(job, result)
        if ok and not force:  # killed between the final rename and the status write
            summary = job_summary(result)
            write_json_atomic(jdir / "status.json", _status(job, "done", recovered=True, **summary))
            return JobOutcome(job, "done", "recovered a finished result")
    shutil.rmtree(attempt, ignore_errors=True)
    if registered is not None and job.model not in registered:
        same = sorted(m for m in registered if m == sweep.backbone or m.endswith("_" + sweep.backbone))
        msg = (f"unknown model id {job.model!r}: not registered with lmms-eval "
               f"(seats_eval.models.registry); registered for {sweep.backbone}: {', '.join(same) or 'none'}")
        state = "skipped" if sweep.unregistered == "skip" else "failed"
        write_json_atomic(jdir / "status.json", _status(job, state, error=msg, finished=_now()))
        return JobOutcome(job, state, msg)
    attempt.mkdir(parents=True)
    write_json_atomic(attempt / "job.json", job.describe())
    write_json_atomic(jdir / "job.json", job.describe())
    argv = lmms_eval_argv(sweep, job, attempt / "output", port=free_port())
    write_text_atomic(attempt / "command.txt", shlex.join(argv) + "\n")
    env = dict(os.environ, **sweep.env, SEATS_RECORD_DIR=str(attempt / "records"))
    if any(t.startswith("seats_fixture_") for t in job.tasks):
        env.setdefault("SEATS_FIXTURE_CLIPS", str(sweep.artifacts / "clips"))
    if sweep.cache:
        # Results-neutral (tests/test_feature_cache.py): not part of the job key. An outer
        # $SEATS_ENCODER_CACHE (one cache shared by several sweeps) wins.
        env.setdefault("SEATS_ENCODER_CACHE", str(sweep.out / "encoder_cache"))
    t0 = time.time()
    started = _now()
    with open(attempt / "log.txt", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO),
                                start_new_session=True, preexec_fn=_die_with(os.getpid()))
        write_json_atomic(jdir / "status.json", _status(
            job, "running", host=socket.gethostname(), pid=os.getpid(), child_pid=proc.pid, pgid=proc.pid,
            attempt=str(attempt), started=started, command=argv))
        try:
            rc = proc.wait()
        except (KeyboardInterrupt, Interrupted):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            write_json_atomic(jdir / "status.json", _status(
                job, "failed", error="interrupted (signal to the sweep)", started=started, finished=_now(),
                log_tail=_log_tail(attempt / "log.txt")))
            raise
    seconds = time.time() - t0
    ok, why = _valid_result(job, attempt)
    if rc != 0 or not ok:
        err = extract_error(attempt / "log.txt")
        msg = f"exit {rc}; {why}; {err}" if rc == 0 else f"exit {rc}; {err}"
        write_json_atomic(jdir / "status.json", _status(
            job, "failed", error=msg, returncode=rc, started=started, finished=_now(), seconds=seconds,
            log=str(attempt / "log.txt"), log_tail=_log_tail(attempt / "log.txt")))
        return JobOutcome(job, "failed", msg, ran=True, seconds=seconds)
    summary = job_summary(attempt)
    if summary["sample_failures"] and not summary["n_records"]:  # lmms-eval "finished", nothing worked
        fails = _jsonl(attempt / "records" / "failures.jsonl")
        msg = f"every sample failed ({len(fails)}); first: {fails[0].get('error', '?')}"
        write_json_atomic(jdir / "status.json", _status(
            job, "failed", error=msg, returncode=rc, started=started, finished=_now(), seconds=seconds,
            log=str(attempt / "log.txt")))
        return JobOutcome(job, "failed", msg, ran=True, seconds=seconds)
    if result.exists():  # only with --force, or a leftover that never became `done`
        old = jdir / f".result.old.{os.getpid()}"
        os.replace(result, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(attempt, result)
    summary = job_summary(result)
    write_json_atomic(jdir / "status.json", _status(
        job, "done", started=started, finished=_now(), seconds=seconds, returncode=rc, **summary))
    note = f", {summary['sample_failures']} sample failure(s)" if summary["sample_failures"] else ""
    return JobOutcome(job, "done", f"done in {seconds:.0f}s{note}", ran=True, seconds=seconds)


def ensure_artifacts(sweep: Sweep) -> None:
    """The tiny model of the spec's backbone (spec `tiny: true`) and the fixture clips,
    created when missing, under a lock in the artifacts folder (concurrent Slurm array
    tasks: one builds, the others wait and find them)."""
    if not sweep.tiny and not any(t.startswith("seats_fixture_") for t in sweep.tasks):
        return  # nothing to build: no lock (the artifacts folder may be read-only)
    lock = _Lock(sweep.artifacts / ".seats-artifacts.lock")
    try:
        lock.acquire(wait=True)
        _ensure_artifacts(sweep)
    finally:
        lock.close()


def _ensure_artifacts(sweep: Sweep) -> None:
    needs_clips = any(t.startswith("seats_fixture_") for t in sweep.tasks) and "SEATS_FIXTURE_CLIPS" not in sweep.env
    if sweep.tiny:
        from ..backbones.families import family_of_suffix
        from ..toys.tiny import make_tiny

        pretrained = {j.model_args.get("pretrained") for j in sweep.jobs}
        for p in filter(None, pretrained):
            d = Path(str(p))
            if (d / "config.json").exists():
                continue
            if "tiny_trained" in d.parts:  # committed weights, never replaced by a random model
                raise ConfigError(f"no trained tiny model at {d}: run `seats-eval train-tiny` (see its MODEL_CARD.md)")
            tmp = d.with_name(d.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            make_tiny(tmp, backbone=family_of_suffix(sweep.backbone).name)
            shutil.rmtree(d, ignore_errors=True)
            os.replace(tmp, d)
    if needs_clips:
        clips = Path(os.environ.get("SEATS_FIXTURE_CLIPS") or sweep.artifacts / "clips")
        if not (clips / "corrupt.mp4").exists():
            from ..toys.synth import make_clips

            make_clips(clips)


@dataclass
class SweepReport:
    outcomes: list[JobOutcome]

    @property
    def ok(self) -> bool:
        return all(o.state in ("done", "skipped") for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for o in self.outcomes:
            c[o.state] = c.get(o.state, 0) + 1
        return c


def run_sweep(sweep: Sweep, *, force: bool = False, job_index: int | None = None, only: str | None = None,
              progress: bool = True, echo: Callable[[str], None] | None = None) -> SweepReport:
    """Run (or skip) the selected jobs in order, one at a time, with a progress bar."""
    from tqdm import tqdm

    jobs = select_jobs(sweep, job_index, only)
    ensure_artifacts(sweep)
    registered = _registered_ids()
    bar = tqdm(total=len(jobs), unit="job", desc=sweep.name, disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    say = echo or (lambda s: bar.write(s, file=sys.stderr))
    outcomes: list[JobOutcome] = []

    def _on_term(signum, frame):  # noqa: ARG001
        raise Interrupted(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, _on_term) if _main_thread() else None
    started = time.time()

    def report(o: JobOutcome) -> None:
        log = sweep.job_dir(o.job) / ("result" if o.state == "done" else "attempt") / "log.txt"
        where = f" (log: {log})" if o.ran and o.state == "failed" else ""
        say(f"[{o.job.index}] {o.job.name}: {o.state}: {o.message}{where}")

    try:
        for job in jobs:
            bar.set_postfix_str(job.name)
            o = run_job(sweep, job, force=force, registered=registered, echo=say)
            outcomes.append(o)
            if o.state != "running":
                report(o)
                bar.update(1)
        for i, o in enumerate(outcomes):  # jobs a concurrent sweep holds: wait for it, take its outcome
            if o.state == "running":
                say(f"[{o.job.index}] {o.job.name}: {o.message}: waiting for it")
                outcomes[i] = run_job(sweep, o.job, force=force, registered=registered, echo=say,
                                      waited_since=started)
                report(outcomes[i])
                bar.update(1)
    finally:
        bar.close()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
    return SweepReport(outcomes)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def sweep_status(sweep: Sweep) -> list[dict[str, Any]]:
    """One row per job: index, name, state (pending when never started; unknown when its
    status.json does not parse: the result is kept, --force reruns it; interrupted when
    its status says running but no process holds its lock: the sweep was killed), error."""
    rows = []
    for job in sweep.jobs:
        jdir = sweep.job_dir(job)
        st = read_status(jdir)
        if isinstance(st, UnreadableStatus):  # empty as a mapping, so tested before `or {}`
            st = {"state": "unknown", "error": f"{st.path} is unreadable ({st.error}); result kept, --force needed"}
        st = st or {}
        state = st.get("state", "pending")
        if state == "done" and st.get("key") != job.key:
            state = "done (other settings)"
        if state == "running":
            lock = _Lock(jdir / ".lock")
            try:
                if lock.acquire():
                    state = "interrupted"
            finally:
                lock.close()
        rows.append({"index": job.index, "name": job.name, "model": job.model, "state": state,
                     "error": st.get("error", ""), "seconds": st.get("seconds")})
    return rows
