"""The project's scripts (scripts/*.py), for their tests: loaded as modules, to call their steps
in process, and run as programs, as the workflows and the test command run them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load(name: str) -> ModuleType:
    """scripts/NAME.py as a module (the scripts are not a package, so not importable by name)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name while the class body runs
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(
    name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """scripts/NAME.py run by this interpreter, stdin closed, its output as text."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{name}.py"), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
