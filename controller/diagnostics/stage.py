"""The log files' stage in RAM: lines wait on tmpfs and reach storage in few large appends.

A log file appended a few hundred bytes at a time gets its last 4 KB page dirtied, written back
(~30 s later) and dirtied again at almost every line: an SD card sees each byte many times.
Staged, it sees them about once.

Rules kept here:
- The stage lives on tmpfs, which survives the process but not the power: under systemd's
  ``RuntimeDirectory`` (``$RUNTIME_DIRECTORY``, the unit preserves it across restarts), else
  ``/dev/shm``, in ``evsed-<hash of the log directory>``: private to this daemon and this
  state directory. The directory is made 0700; one that is not a directory of ours (a
  symlink, another owner, open to group or others) or not on tmpfs is refused (``StageRefused``),
  and the caller writes to storage directly.
- Each record is written to its stage file at once (one ``write``): a kill -9 loses no line.
- Staged lines move to the file on storage in one append when the stage reaches
  ``STAGE_BYTES``, when its oldest line is ``STAGE_AGE_S`` old, on ``flush()`` (every reader
  flushes first) and on ``close()``. The age bound is journald's (``SyncIntervalSec``, 5
  minutes): a power cut loses at most the last 5 minutes of these logs, as it may of the
  journal. A stage a killed daemon left behind is moved first, when the handler opens: order
  is kept. A kill -9 between the append and the stage's truncation repeats those lines once
  at the next start; none is lost.
- Rotation as ``RotatingFileHandler`` does it: a file that holds something and would reach
  ``max_bytes`` is renamed ``.1`` (``.1`` to ``.2`` ... up to ``backups``) before the next line.
- Storage that refuses the append keeps the lines staged (said once on stderr, which is the
  journal); the move is tried again after another ``STAGE_BYTES`` or ``STAGE_AGE_S``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

STAGE_BYTES = 64 * 1024
STAGE_AGE_S = 300.0  # journald's SyncIntervalSec default
TMPFS = frozenset({"tmpfs", "ramfs"})
SHM = Path("/dev/shm")


class StageRefused(Exception):
    """No safe stage: the reason, for the one warning."""


def stage_base(environ: Mapping[str, str]) -> Path:
    """systemd's runtime directory (the first, when the unit names several), else /dev/shm."""
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(runtime) if runtime else SHM


def mount_type(mounts: str, path: Path) -> str | None:
    """The type of the file system ``path`` is on, from ``/proc/self/mounts``. Pure."""
    best, found = -1, None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")  # the kernel escapes blanks in mount points
        if (str(path) == point or str(path).startswith(point.rstrip("/") + "/")) and len(point) > best:
            best, found = len(point), fields[2]
    return found


def refusal(st: os.stat_result, uid: int) -> str | None:
    """Why a stage directory with these attributes is not private to us, or None. Pure."""
    if stat.S_ISLNK(st.st_mode):
        return "it is a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != uid:
        return f"it belongs to uid {st.st_uid}, not {uid}"
    if st.st_mode & 0o077:
        return f"its mode is {stat.S_IMODE(st.st_mode):o}, open to others"
    return None


def stage_name(logs: Path) -> str:
    """The stage directory's name for the log directory ``logs``: one per state directory."""
    return "evsed-" + hashlib.sha256(str(logs.resolve()).encode()).hexdigest()[:16]


def stage_dir(logs: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The stage directory of the log directory ``logs``, made if missing; StageRefused if unsafe."""
    base = stage_base(environ)
    try:
        kind = mount_type(Path("/proc/self/mounts").read_text(), base.resolve())
    except OSError as exc:
        raise StageRefused(f"the mounts are unreadable: {exc}") from None
    if kind not in TMPFS:
        raise StageRefused(f"{base} is not on tmpfs ({kind})")
    path = base / stage_name(logs)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StageRefused(f"{path}: {exc}") from None
    reason = refusal(os.lstat(path), os.geteuid())
    if reason is not None:
        raise StageRefused(f"{path}: {reason}")
    return path


def append_rotating(target: Path, data: bytes, max_bytes: int, backups: int) -> None:
    """Append ``data`` (whole lines) to ``target``, rotating it as RotatingFileHandler would."""
    size = target.stat().st_size if target.exists() else 0
    part = bytearray()
    for line in data.splitlines(keepends=True):
        if size + len(part) and size + len(part) + len(line) >= max_bytes:
            _append(target, part)
            _rotate(target, backups)
            size = 0
            part.clear()
        part += line
    _append(target, part)


def _append(target: Path, data: bytes | bytearray) -> None:
    if data:
        with open(target, "ab") as f:
            f.write(data)


def _rotate(target: Path, backups: int) -> None:
    for i in range(backups - 1, 0, -1):
        older = target.with_name(f"{target.name}.{i}")
        if older.exists():
            older.replace(target.with_name(f"{target.name}.{i + 1}"))
    target.replace(target.with_name(target.name + ".1"))


class StagedHandler(logging.Handler):
    """A log file on storage, written through its stage file on tmpfs."""

    def __init__(self, stage: Path, target: Path, max_bytes: int, backups: int):
        super().__init__()
        self.stage, self.target = stage, target
        self.max_bytes, self.backups = max_bytes, backups
        self._fd = os.open(stage, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._move_at = STAGE_BYTES
        self._timer: threading.Timer | None = None
        self._complained = False
        self.moves = 0  # appends to storage (the tests count them)
        self.flush()  # what a killed daemon staged goes first

    def emit(self, record: logging.LogRecord) -> None:
        if self._fd < 0:
            return  # closed: a thread's record that came too late
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
            os.write(self._fd, data)
        except Exception:
            self.handleError(record)
            return
        if not self._size:
            self._arm()
        self._size += len(data)
        if self._size >= self._move_at:
            self._move()

    def flush(self) -> None:
        """Move every staged line to storage."""
        self.acquire()
        try:
            self._move()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            if self._fd >= 0:
                self._move()
                self._disarm()
                os.close(self._fd)
                self._fd = -1
                if not self._size:
                    self.stage.unlink(missing_ok=True)
        finally:
            self.release()
        super().close()

    def _move(self) -> None:
        if not self._size or self._fd < 0:
            return
        self._disarm()
        try:
            data = os.pread(self._fd, self._size, 0)
            if not data.endswith(b"\n"):
                data += b"\n"  # a line the kill cut short: the next one starts on its own line
            append_rotating(self.target, data, self.max_bytes, self.backups)
        except OSError as exc:
            if not self._complained:
                print(f"evsed: log lines kept in {self.stage}: {self.target} refused them: {exc}", file=sys.stderr)
                self._complained = True
            self._move_at = self._size + STAGE_BYTES
            self._arm()
            return
        os.ftruncate(self._fd, 0)
        self._size, self._move_at, self._complained = 0, STAGE_BYTES, False
        self.moves += 1

    def _arm(self) -> None:
        self._timer = threading.Timer(STAGE_AGE_S, self.flush)
        self._timer.daemon = True
        self._timer.start()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
