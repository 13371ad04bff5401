"""A fake clock that the helper's processes and the test servers share.

The helper's clock is faked from outside, as any program's would be: Debian's libfaketime,
preloaded, reads an offset such as `+3600` from FAKETIME_TIMESTAMP_FILE on every call
(FAKETIME_NO_CACHE), so the clock moves when the file changes, between helper calls. The
monotonic clock moves by the same offset, which is constant during a call, so lock waits and
timeouts keep their length. (FAKETIME_DONT_FAKE_MONOTONIC would keep it real, but then
libfaketime 0.9.10 fails Python's time.sleep with EINVAL; an absolute date would freeze it.)
A bed that serves the helper (FakeECR) reads the same offset through `now`, so tokens and
signatures agree with the helper's idea of the time. Nothing inside the helper is patched.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path

#: Where Debian's `faketime` package puts the library, by architecture.
LIBRARY_PATTERN = "/usr/lib/*/faketime/libfaketime.so.1"


def library() -> str | None:
    """The preloadable libfaketime, or None where the `faketime` package is not installed."""
    found = sorted(glob.glob(LIBRARY_PATTERN))
    return found[0] if found else None


class FakeClock:
    """Real time plus an offset in whole seconds, kept in a file libfaketime reads."""

    def __init__(self, directory: Path, offset: int = 0) -> None:
        lib = library()
        if lib is None:
            raise RuntimeError(f"libfaketime not found ({LIBRARY_PATTERN}); install faketime")
        self.library = lib
        self.file = directory / "faketime-offset"
        self.offset = 0
        self.set(offset)

    def set(self, offset: int) -> None:
        """Put the clock `offset` seconds from real time, for every process from now on."""
        self.offset = int(offset)
        self.file.write_text(f"{self.offset:+d}\n")

    def advance(self, seconds: float) -> None:
        """Move the clock forward; call it only while no helper process runs."""
        self.set(self.offset + round(seconds))

    def at(self, moment: float) -> None:
        """Put the clock at the epoch time `moment` (to the second)."""
        self.set(round(moment - time.time()))

    def now(self) -> float:
        """The fake time, as the helper's processes read it."""
        return time.time() + self.offset

    def env(self) -> dict[str, str]:
        """What a process's environment needs to run on this clock."""
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",
        }


def moto_clock(directory: Path) -> FakeClock:
    """A clock six hours before moto's token expiry (beds.aws.MOTO_TOKEN_EXPIRY), so that the
    helper takes moto's tokens for fresh ones, as it would AWS's."""
    from beds.aws import MOTO_TOKEN_EXPIRY

    clock = FakeClock(directory)
    clock.at(MOTO_TOKEN_EXPIRY - 6 * 3600)
    return clock
