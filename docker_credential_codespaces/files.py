"""Files read so that nothing in their place can hang the helper, and private files written
so that no crash, race or hostile path loses or leaks a secret.

The store and the token cache both hold secrets and are both shared by concurrent docker
processes, so they share these rules: 0700 directories, 0600 files, writes by temporary file,
fsync and rename under an exclusive lock. Every read, of those and of the files others write
(config.json), opens without blocking and refuses anything but a regular file.
"""

from __future__ import annotations

import os
import stat
import time

from .constants import ENV_CRASH_TEST_PAUSE, LOCK_TIMEOUT
from .wire import HelperError

_TEMP_SUFFIX = ".tmp"


class UnsafeDirectory(HelperError):
    """A directory a setting names that may not hold secrets (other users can write to it, or
    it is not an absolute path): the user must hear of it, where an unusable cache directory
    (read-only, no home) is otherwise only said under debug.
    """


class LockTimeout(HelperError):
    """Another process held a lock for longer than this one may wait: never "go on unlocked",
    which for the token cache would mean one more AWS call per waiting pull."""


class PrivateDir:
    """A directory that holds secrets: the local store's or the token cache's.

    The helper's own directory (under the XDG data or cache home) is created 0700, and a
    looser mode found on it later is repaired. A directory that a setting names (`setting`)
    may be the user's, shared with other programs, or a sticky /tmp: it is created 0700 when
    missing, and otherwise used as it is, never chmodded, or refused when other users could
    write to it. Either way a symlink or another user's directory is refused: either could hand
    our secrets to someone else, or someone else's files to us as credentials. With `repair`
    False (doctor: diagnosing never changes the disk), loose modes are left as they are.
    """

    __slots__ = ("path", "repair", "setting")

    def __init__(self, path: str, setting: str | None = None, repair: bool = True) -> None:
        self.path = path
        self.setting = setting
        self.repair = repair

    def __repr__(self) -> str:
        return f"PrivateDir({self.path!r}, setting={self.setting!r}, repair={self.repair!r})"

    def file(self, name: str) -> str:
        """The path of a file in this directory."""
        return os.path.join(self.path, name)

    def ensure(self) -> None:
        """Create the directory 0700, or check (and, if it is ours, repair) an existing one."""
        self._refuse_relative()
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        except OSError as error:
            raise HelperError(f"cannot create directory {self.path}: {error.strerror}") from None
        if not self.check():
            raise HelperError(f"cannot create directory {self.path}")

    def check(self) -> bool:
        """Whether the directory exists and may hold secrets; False if it is missing.

        HelperError names what is wrong with one that may not.
        """
        self._refuse_relative()
        path = self.path
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise HelperError(f"cannot use directory {path}: {error.strerror}") from None
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise HelperError(f"{path} is not a plain directory; refusing to keep secrets in it")
        if info.st_uid != os.getuid():
            raise HelperError(f"{path} belongs to another user; refusing to keep secrets in it")
        if self.setting is not None:
            if info.st_mode & 0o022:
                raise UnsafeDirectory(
                    f"{path}, named by {self.setting}, can be written by other users; refusing "
                    "to keep secrets in it (point the setting at a directory of your own)"
                )
        elif info.st_mode & 0o077 and self.repair:
            try:
                os.chmod(path, 0o700)
            except OSError as error:
                raise HelperError(f"cannot make {path} private: {error.strerror}") from None
        return True

    def _refuse_relative(self) -> None:
        """A path that is not absolute would be taken from docker's working directory, where
        a project's `git add -A` picks up the secrets. The helper's own directories are
        always absolute (settings ignores a relative XDG home, as the XDG rules say); a
        setting the user named is refused, naming it, rather than ignored: the user meant
        the store or cache to be somewhere, and should not find it elsewhere unsaid."""
        if os.path.isabs(self.path):
            return
        named = f", named by {self.setting}," if self.setting else ""
        raise UnsafeDirectory(
            f"{self.path!r}{named} is not an absolute path; refusing to keep secrets under the "
            "working directory (a shell expands ~, docker and devcontainer.json do not)"
        )

    def read(self, name: str, cap: int) -> bytes | None:
        """The bytes of a private file here, or None when it (or the directory) does not exist.

        The directory is checked as for writing, and the file is opened without following
        links and without blocking, so a FIFO, a link or another user's file planted in its
        place cannot hang, redirect or feed the read; a group- or world-readable file of ours
        is made 0600.
        """
        if not self.check():
            return None
        return _read(self.file(name), cap, private=True, repair=self.repair)

    def write(self, name: str, data: bytes, cap: int | None = None) -> None:
        """Replace a private file here atomically; the caller holds its lock.

        `cap` is the most the file is read back with: a write over it is refused, and the
        file left as it was. Written, it could never be read again, and with it everything
        else it holds (the store's logins, which not even `erase` could then reach).
        """
        if cap is not None and len(data) > cap:
            raise HelperError(
                f"{self.file(name)} would be {len(data)} bytes, more than the {cap} it is read "
                "back with; it is left as it was"
            )
        self.ensure()
        path = self.file(name)
        remove_stale_temps(path)
        atomic_write(path, data)

    def lock(self, name: str, required: bool = True, timeout: float = LOCK_TIMEOUT) -> FileLock:
        """The exclusive lock of one file here (see FileLock)."""
        return FileLock(self.file(name), timeout, required)


def read_regular(path: str, cap: int) -> bytes | None:
    """The bytes of a regular file of anyone's, or None when it does not exist.

    For the files the helper only reads and others write (config.json, which may be a link):
    opened without blocking, so a FIFO or a device in its place is an error in one line, never
    a hang, and a file over `cap` is said to be one. (The secrets file, read on every `get`,
    has its own lighter copy of this in secrets.py.)
    """
    return _read(path, cap, private=False)


def _read(path: str, cap: int, private: bool, repair: bool = False) -> bytes | None:
    """Open `path` without blocking, refuse anything but a regular file, read at most `cap`.

    A private file is also opened without following a link, and must be ours; with `repair`,
    one that others may read is made 0600.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW if private else flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise HelperError(f"cannot read {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HelperError(f"{path} is not a regular file")
        if private:
            if info.st_uid != os.getuid():
                raise HelperError(f"{path} belongs to another user; refusing to read it")
            if info.st_mode & 0o077 and repair:
                os.fchmod(fd, 0o600)
        chunks = []
        size = 0
        while size <= cap:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise HelperError(f"{path} is larger than {cap} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise HelperError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(fd)


def json_value(data: bytes, name: str, cure: str) -> object:
    """The JSON a file's bytes hold, or one line naming the file (`name`) and what to do."""
    import json

    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise HelperError(f"{name} is not valid JSON; {cure}") from None


def atomic_write(
    path: str, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Replace `path` with `data` so that readers see the old file or the new, never a part.

    The caller holds the file's lock; the temporary file sits beside the target so that the
    rename stays on one file system. `mode` is private by default: most files hold secrets.
    `owner` (uid, gid) is given to the new file before it takes the old one's place, for a
    file of someone else's that root rewrites (config.json).
    """
    directory, name = os.path.split(path)
    temp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}{_TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if owner is not None and owner != (os.getuid(), os.getgid()):
                os.fchown(fd, *owner)
            os.fsync(fd)
        finally:
            os.close(fd)
        _crash_test_pause()
        os.replace(temp, path)
    except OSError as error:
        _unlink_quietly(temp)
        raise HelperError(f"cannot write {path}: {error.strerror}") from None
    _fsync_dir(directory)


def _crash_test_pause() -> None:
    """For the crash tests alone: hold the writer between fsync and rename, to be killed there.

    That instant is the one a crash-safe write must survive, and no signal sent from outside
    can be timed to land in it; the variable is named for that test and does nothing else.
    """
    delay = os.environ.get(ENV_CRASH_TEST_PAUSE)
    if delay:
        try:
            time.sleep(float(delay))
        except (ValueError, OverflowError):
            pass


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable; best effort, as some file systems refuse it."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_stale_temps(path: str) -> None:
    """Delete temporary files that killed writers of `path` left behind.

    Called with the lock held: no live writer can own one then, so every one is stale.
    """
    directory, name = os.path.split(path)
    prefix = f".{name}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(_TEMP_SUFFIX):
            _unlink_quietly(os.path.join(directory, entry))


class FileLock:
    """An exclusive advisory lock on `<path>.lock`, waited for at most `timeout` seconds (0:
    tried once).

    flock locks are released by the kernel when a process dies, so a killed docker never
    leaves the next one locked out; and they belong to the open file, not the process, so a
    child forked while holding one keeps it after the parent closes its copy (the ECR
    refresher relies on that). With `required=False` (the token cache) a lock file that cannot
    be opened is said under debug and the block runs unlocked: a cache must not block a pull.
    A wait that times out is LockTimeout either way.
    """

    def __init__(self, path: str, timeout: float = LOCK_TIMEOUT, required: bool = True) -> None:
        self.path = path + ".lock"
        self.timeout = timeout
        self.required = required
        self._fd = -1

    def __enter__(self) -> FileLock:
        try:
            self._acquire()
        except HelperError as error:
            if self.required or isinstance(error, LockTimeout):
                raise
            from .log import debug

            debug(f"going on without the lock: {error}")
        return self

    def _acquire(self) -> None:
        import fcntl

        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as error:
            raise HelperError(f"cannot open the lock {self.path}: {error.strerror}") from None
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(f"timed out waiting for the lock {self.path}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
            else:
                self._fd = fd
                return

    @property
    def held(self) -> bool:
        """Whether the lock is had (a `required=False` one may run without it)."""
        return self._fd >= 0

    @property
    def fd(self) -> int:
        """The descriptor that holds the lock, for a child that must keep holding it."""
        return self._fd

    def __exit__(self, *exc_info: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
