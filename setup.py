"""Build step of the wheel: copy the project folders that seats-eval reads at run time
(tasks/, model_configs/, results/paper/) into the wheel as seats_eval/_resources/<same path>,
where seats_eval/io/resources.py finds them in an installed package. The repository keeps them
where they are; an editable install reads the checkout's own folders, so nothing is copied
then. Everything else is declared in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# the project-relative folders shipped under seats_eval/_resources/ (resources.PACKAGED);
# the tiny trained models are ordinary package data (pyproject.toml)
SHIPPED = ("tasks", "model_configs", "results/paper")
SKIPPED = ("__pycache__", "*.pyc", ".gitignore")


class BuildPyWithResources(build_py):
    """build_py, plus the copies of SHIPPED under build_lib/seats_eval/_resources/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the checkout's folders are used in place
            return
        root = Path(__file__).resolve().parent
        # a reused build/ (pip wheel . in a checkout) must not ship a task or spec removed since
        shutil.rmtree(Path(self.build_lib) / "seats_eval" / "_resources", ignore_errors=True)
        for rel in SHIPPED:
            src = root / rel
            if not src.is_dir():
                raise SystemExit(f"setup.py: {src} is missing: it must ship in the wheel")
            for path in sorted(src.rglob("*")):
                if path.is_dir() or any(path.match(p) or p in path.parts for p in SKIPPED):
                    continue
                target = Path(self.build_lib) / "seats_eval" / "_resources" / path.relative_to(root)
                self.mkpath(str(target.parent))
                self.copy_file(str(path), str(target), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithResources})
