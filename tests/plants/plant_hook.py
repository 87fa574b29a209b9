"""Shared by the planted bugs (tests/plants/<name>/sitecustomize.py): run `plant(module)`
right after the module `module_name` is first imported, so the plant needs no early import."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType


def patch_on_import(module_name: str, plant: Callable[[ModuleType], None]) -> None:
    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != module_name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                plant(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Finder())
