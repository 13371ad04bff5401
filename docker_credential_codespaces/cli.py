"""The executable's entry point: people's commands go to their modules, the rest to the wire.

Kept tiny and import-light because docker starts it for every registry it touches.
"""

from __future__ import annotations

import io  # loaded by the interpreter itself before any of this runs
import os  # costs nothing here: the secrets module imports it on every path anyway
import sys

TYPE_CHECKING = False  # typing is not imported at run time: see the package docstring
if TYPE_CHECKING:
    from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    """Run one invocation and return its exit code."""
    argv = sys.argv if argv is None else argv
    command = argv[1] if len(argv) >= 2 else ""
    if command == "doctor":
        from . import doctor

        return doctor.main(argv[2:])
    if command in ("configure", "unconfigure"):
        from . import configure

        return configure.main(argv[2:], undo=command == "unconfigure")
    if command == "warm":
        from . import warm

        return warm.main(argv[2:])
    if command == "export":
        from . import export

        return export.main(argv[2:])
    if sys.stdout is None:  # started with stdout closed: nobody can hear an answer
        return 1
    from .chain import chain
    from .wire import serve

    # Started with stdin closed, a request reads as empty (and `list` never reads it).
    stdin = sys.stdin.buffer if sys.stdin is not None else io.BytesIO()
    try:
        code = serve(chain(), argv, stdin, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # docker went away before the answer: nobody left to tell
        return 1
    except OSError as error:  # stdout on a full disk, say: the answer did not arrive whole
        from .log import warn

        warn(f"cannot write the answer: {error.strerror or type(error).__name__}")
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def _hold_standard_descriptors() -> None:
    """Put /dev/null on whichever of descriptors 0, 1 and 2 the helper was started without.

    A process started with one closed (`2>&-`) would hand that number to the next file it
    opens: a cache key's lock on descriptor 2 is dropped by a refresher's dup2 of /dev/null
    onto 0-2, and single flight is lost. With the three held first, nothing the helper must
    keep ever lands there. sys.stdin, sys.stdout and sys.stderr stay None as Python made
    them, so a closed stdout still means nobody can hear an answer.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            os.set_inheritable(fd, True)


def entry() -> NoReturn:
    """The executable: run `main`, flush what it wrote, and exit without the teardown.

    An interpreter's normal exit frees every module and object one by one, and docker waits
    for it: a visible share of a plain `get`, and far more of a cold ECR `get` once botocore
    is loaded (docs/performance.md has the figures). Nothing is left for that teardown to do:
    files the helper writes are closed, fsynced and renamed before `main` returns, and locks
    die with the process. atexit handlers are skipped too; the only one registered, by
    `logging` (imported by botocore), has nothing left to do by then, as botocore's loggers
    have no handler that buffers. doctor --check's daemon threads past their deadline are meant
    to end with the process.
    The helper itself must register none.
    """
    _hold_standard_descriptors()
    try:
        code = main()
    except SystemExit as done:  # argparse, for --help or a bad argument: exit as it says
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: the answer did not arrive
            code = code or 1
    os._exit(code)
