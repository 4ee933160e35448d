"""Test-only: SIGKILL this process at a named point, so a test can prove a rerun repairs everything.

With the directory of this file on PYTHONPATH, NEWSTRACK_KILL_AT="module:function:N" kills the
process on the N-th call of that function, just before it runs; "module:function:N:after" kills it
just after the N-th call returns. "module:Class.method:N" names a method. Nothing is mocked: the
real command runs until the kill, as a power cut or the OOM killer would stop it.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import signal
import sys
import threading
from types import ModuleType
from typing import Any


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(function: Any, nth: int, after: bool) -> Any:
    calls = 0
    lock = threading.Lock()

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        with lock:
            calls += 1
            now = calls == nth
        if now and not after:
            _kill()
        result = function(*args, **kwargs)
        if now and after:
            _kill()
        return result

    return wrapper


class _KillPointFinder(importlib.abc.MetaPathFinder):
    """Wraps the named function as soon as its module has been executed."""

    def __init__(self, module: str, attribute: str, nth: int, after: bool) -> None:
        self.module, self.attribute, self.nth, self.after = module, attribute, nth, after

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != self.module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            owner: Any = module
            *parents, leaf = self.attribute.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            setattr(owner, leaf, _wrap(getattr(owner, leaf), self.nth, self.after))

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_spec = os.environ.get("NEWSTRACK_KILL_AT")
if _spec:
    _module, _attribute, _nth, *_when = _spec.split(":")
    sys.meta_path.insert(0, _KillPointFinder(_module, _attribute, int(_nth), _when == ["after"]))
