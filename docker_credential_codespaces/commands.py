"""What the commands for people (configure, unconfigure, doctor, export, warm) share: argv.

argparse answers a bad argument with the usage text and exit 2; every other error of this
helper is one line and exit 1, and scripts that run `doctor` or `configure` should not need
to know two conventions.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn  # off docker's hot path: only these commands import this module

from .constants import PROGRAM


class Parser(argparse.ArgumentParser):
    """argparse for `<program> <command>`, but a bad argument is one line on stderr naming
    `--help`, and exit 1."""

    def __init__(self, command: str, description: str) -> None:
        super().__init__(prog=f"{PROGRAM} {command}", description=description)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see --help)\n")
        raise SystemExit(1)
