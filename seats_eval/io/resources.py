"""Where each of seats-eval's data folders is: the one owner of "where is resource X".

The resources are the repository's folders `tasks/` (lmms-eval task YAMLs, their utils and
fixture records), `model_configs/` (backbone configs, sweep specs and partials, regression
baselines), `results/paper/` (the paper's numbers) and `seats_eval/data/tiny_trained/` (the
trained tiny models). A wheel carries copies of the first three under
`seats_eval/_resources/` (setup.py's build step; the repository keeps them where they are)
and the tiny models as ordinary package data.

One rule, checked in this order:
1. `$SEATS_EVAL_HOME` set: that project folder (laid out as the repository) supplies every
   resource; one it lacks is an error naming the folder.
2. the package is imported from a checkout (a plain checkout, `PYTHONPATH`, or an editable
   install): the checkout's own folders.
3. otherwise (a wheel or a git-URL install): the copies inside the installed package,
   found with `importlib.resources`.
Default outputs (artifacts/, results/runs/...) go under the project folder of 1 or 2, else
under the current directory (`work_dir`).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from ..errors import ConfigError

HOME_ENV = "SEATS_EVAL_HOME"
PACKAGED = "_resources"  # seats_eval/_resources/<project-relative path> in a built wheel
# resource name -> its path relative to a project folder (and to seats_eval/_resources/)
RESOURCES: dict[str, str] = {
    "tasks": "tasks",
    "model_configs": "model_configs",
    "sweeps": "model_configs/sweeps",
    "baselines": "model_configs/sweeps/baselines",
    "paper": "results/paper",
    "tiny_trained": "seats_eval/data/tiny_trained",
}
# what marks a folder as a seats-eval project (a checkout, or a copy of its layout)
_PROJECT_MARKERS = ("tasks", "model_configs")


def _package_dir() -> Path:
    root = files("seats_eval")
    if not isinstance(root, Path):  # pragma: no cover - e.g. a zipped install
        raise ConfigError(f"seats_eval is installed as {root!r}, not as a folder; lmms-eval needs the task "
                          f"folder on disk: install the wheel normally, or set {HOME_ENV} to a checkout")
    return root


def _checkout() -> Path | None:
    """The checkout the package is imported from, when it is one (its parent holds
    pyproject.toml and the project folders), else None."""
    parent = _package_dir().parent
    if (parent / "pyproject.toml").is_file() and all((parent / m).is_dir() for m in _PROJECT_MARKERS):
        return parent
    return None


def project_dir() -> Path | None:
    """The project folder that supplies the resources ($SEATS_EVAL_HOME, else the checkout),
    or None when they come from the installed package."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        path = Path(os.path.abspath(os.path.expanduser(home)))
        if not path.is_dir():
            raise ConfigError(f"{HOME_ENV}={home}: not a folder (expected a project folder laid out as the "
                              f"seats-eval repository: {', '.join(_PROJECT_MARKERS)}/ ...)")
        return path
    return _checkout()


def work_dir() -> Path:
    """Base of default outputs: the project folder, else the current directory."""
    return project_dir() or Path.cwd()


def resource(name: str, check: bool = True) -> Path:
    """Absolute folder of resource `name` (a key of RESOURCES) under the rule of the module
    docstring; a ConfigError naming the folder when it is missing (unless `check` is False:
    for defaults computed at import, read later)."""
    try:
        rel = RESOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown resource {name!r}; known: {', '.join(RESOURCES)}") from None
    project = project_dir()
    if project is not None:
        path = project / rel
        origin = f"${HOME_ENV}" if os.environ.get(HOME_ENV, "").strip() else "the checkout"
    else:
        package = _package_dir()
        prefix = "seats_eval/"  # the tiny models are package data at their own place
        path = package / rel[len(prefix):] if rel.startswith(prefix) else package / PACKAGED / rel
        origin = "the installed package"
    if check and not path.is_dir():
        raise ConfigError(f"seats-eval resource {name!r} not found: {path} is missing ({origin}; see "
                          f"seats_eval/io/resources.py for the lookup rule, {HOME_ENV} to point elsewhere)")
    return path


def tasks_dir() -> Path:
    """The lmms-eval task folder (`--include_path`)."""
    return resource("tasks")


def locate(relpath: str) -> Path | None:
    """A project-relative path (`seats_eval/data/tiny_trained/qwen2.5-omni`, `tasks/...`)
    mapped to where it is now, or None when it is under no resource or does not exist there
    (the caller then keeps the path as written, and whatever opens it names it). Backbone
    configs and sweep specs name committed files this way."""
    rel = Path(relpath).as_posix().strip("/")
    for name, root in sorted(RESOURCES.items(), key=lambda kv: -len(kv[1])):
        if rel == root or rel.startswith(root + "/"):
            path = resource(name, check=False) / rel[len(root):].lstrip("/")
            return path if path.exists() else None
    return None
