"""Writes the executable docker runs: a script that starts Python as lightly as it can.

The script pip and pipx install from the wheel (scripts/ in the checkout) starts the
interpreter the ordinary way: pip rewrites its `#!python` line to the venv's interpreter and
keeps no flags. `site` then runs, reads every `.pth` file in the venv and imports what they
name, and PYTHONPATH, PYTHONHOME and the user's site-packages all apply. On docker's hot path
that is a visible share of the run, paid on every registry docker touches (docs/install.md
has the figures), and a project's PYTHONPATH in the dev container could shadow the helper's
own modules. The script written here instead:

* runs `python -I -S`: isolated from PYTHON* variables and the user's site-packages, and
  without `site` at all;
* puts exactly the directories the helper imports from on sys.path: its own package's, then
  the venv's site-packages (for botocore and platformdirs);
* calls `cli.entry`, which exits without the interpreter's teardown.

install.sh and the dev container Feature run it after pip, for the venv $V, as

    $V/bin/python -I -m docker_credential_codespaces.launcher $V/bin/docker-credential-codespaces

with -I, so that the package it finds, and writes into sys.path, is the installed one and not
a checkout in the current directory or on PYTHONPATH.
"""

from __future__ import annotations

import os
import sys
import sysconfig

from .constants import PACKAGE
from .files import atomic_write
from .wire import HelperError

# Linux reads at most this much of a `#!` line (BINPRM_BUF_SIZE before 5.1), and splits it at
# the first blank; an interpreter path that does not fit goes through /bin/sh instead.
SHEBANG_MAX = 127
FLAGS = "-IS"


def import_paths() -> list[str]:
    """Where the helper's modules are found: its package's parent, then site-packages."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [package_parent]
    for name in ("purelib", "platlib"):
        path = sysconfig.get_path(name)
        if path not in paths:
            paths.append(path)
    return paths


def script(interpreter: str, paths: list[str]) -> str:
    r"""The wrapper's text for this interpreter and these import paths.

    Two readers take the interpreter's path from the script, each by its own rules:

    * the kernel reads the `#!` line up to its first blank, and Python reads that line as a
      comment where `coding:` or `coding=` declares the file's encoding (PEP 263). A path
      with a blank, too long for the kernel, or holding such a declaration (`coding:bogus`
      made every run a SyntaxError) goes through /bin/sh's exec line instead;
    * sh reads the path of that exec line in single quotes, and Python reads the same bytes
      in a string literal, where a backslash starts an escape (`\N`, `\x` or `\u` made every
      run a SyntaxError, any other a SyntaxWarning on docker's terminal). So each backslash
      is written outside sh's quotes, as `\\`: one backslash to sh, a valid escape to Python.

    What neither can hold is refused in one line: a line break (it would end either line
    early), a NUL or a path that is not UTF-8 (Python reads the script as UTF-8), and a path
    that is not absolute, which the kernel would look up from docker's working directory.
    """
    try:
        size = len(interpreter.encode("utf-8"))
    except UnicodeEncodeError:
        raise HelperError(f"cannot name {interpreter!r} in a script: it is not UTF-8") from None
    if "\n" in interpreter or "\r" in interpreter:
        raise HelperError(f"cannot name {interpreter!r} in a script: it holds a line break")
    if "\0" in interpreter:
        raise HelperError(f"cannot name {interpreter!r} in a script: it holds a NUL")
    if not os.path.isabs(interpreter):
        raise HelperError(f"cannot name {interpreter!r} in a script: it is not an absolute path")
    shebang = f"#!{interpreter} {FLAGS}\n"
    if (
        " " in interpreter
        or "\t" in interpreter
        or size + len(FLAGS) + 4 > SHEBANG_MAX
        or "coding:" in interpreter
        or "coding=" in interpreter
    ):
        # pip's trick: sh runs the quoted exec line, Python sees a string and goes on.
        quoted = "'" + interpreter.replace("'", "'\"'\"'").replace("\\", "'\\\\'") + "'"
        shebang = f"#!/bin/sh\n'''exec' {quoted} {FLAGS} \"$0\" \"$@\"\n' '''\n"
    return (
        f"{shebang}"
        f"# Written by {PACKAGE}.launcher; see there for why it looks like this.\n"
        "import sys\n"
        f"sys.path += {paths!r}\n"
        f"from {PACKAGE}.cli import entry\n"
        "entry()\n"
    )


def write(path: str, interpreter: str | None = None) -> None:
    """Replace `path` with the wrapper for `interpreter` (default: this one), executable."""
    text = script(interpreter or sys.executable, import_paths())
    atomic_write(path, text.encode("utf-8"), mode=0o755)


def main(argv: list[str]) -> int:
    """`python -I -m docker_credential_codespaces.launcher PATH`: write the wrapper to PATH."""
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(f"usage: python -I -m {PACKAGE}.launcher PATH\n")
        return 2
    try:
        write(argv[0])
    except HelperError as error:
        sys.stderr.write(f"{PACKAGE}.launcher: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
