"""One daemon per state directory: an exclusive ``flock`` on ``<state_dir>/evsed.lock``.

Rules kept here:
- ``evsed run`` takes the lock before anything reads or writes the state directory or opens
  the board, and holds it until the process ends. The kernel drops it when the process dies,
  even by kill -9 or a power cut, so there is never a stale lock to clean up.
- A second taker fails at once (never waits) with ``StateDirBusy``, naming the directory and
  the holder's pid, having changed nothing: it only opened the lock file.
- ``evsed check --hardware`` takes the same lock: it refuses while a daemon runs, and no
  daemon starts while it drives the outputs.
- The file holds the holder's pid, for that message only. It is never deleted (a deleted and
  re-created file would let two processes each lock their own). A lock file the caller may
  not write (left by root, say) is locked read-only: ``flock`` needs no write access.
- The descriptor is close-on-exec: a daemon that re-executes itself (OCPP Reset) gives the
  lock up at the exec and takes it again like any new start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "evsed.lock"


class StateDirBusy(Exception):
    """Another process holds the state directory."""


class StateDirUnusable(OSError):
    """The state directory cannot be created or its lock file opened; the message names the key."""


@contextlib.contextmanager
def hold_state_dir(state_dir: Path) -> Iterator[None]:
    """Lock ``state_dir`` (created if missing) for the block; raise StateDirBusy if it is held.

    StateDirUnusable when the directory cannot be created or the lock file cannot be opened."""
    path = state_dir / LOCK_FILE
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # Readable by all (inside a 0700 directory): a daemon user can still lock a file that
            # root's `check --hardware` created before the first start.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            writable = True
        except PermissionError:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            writable = False
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(state_dir) else ""
        what = "not a directory" if isinstance(exc, FileExistsError) else exc.strerror
        raise StateDirUnusable(f"[storage] state_dir = '{state_dir}': {what}{where}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise StateDirBusy(
                f"state directory {state_dir} is in use by another evsed{f' (pid {holder})' if holder else ''}: "
                f"one daemon per state directory; stop it first"
            ) from None
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else ""
