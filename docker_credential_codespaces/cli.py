"""The executable's entry point: people's commands go to their modules, the rest to the wire.

Kept tiny and import-light because docker starts it for every registry it touches.
"""

from __future__ import annotations

import sys


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
    from .resolve import CodespacesHelper
    from .wire import serve

    try:
        code = serve(CodespacesHelper(), argv, sys.stdin.buffer, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130
    return code
