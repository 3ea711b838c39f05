"""The slot launcher: what systemd starts (``<root>/current/bin/evsed``) and the A/B switch.

This file is copied, behind a ``#!`` line naming the interpreter, into every slot as
``bin/evsed`` by the release that installs the slot; it imports only the standard library,
so a broken release cannot break the code that decides whether to run it.

Rules kept here:
- Layout: ``<root>/slots/a``, ``<root>/slots/b`` (each ``lib/`` + ``bin/evsed``) and the
  symlink ``<root>/current`` naming the slot that boots. ``current`` changes only by renaming
  a new symlink over it (atomic); the marker ``<root>/update.json`` changes only by renaming
  a fsynced file over it. A power cut at any instant leaves ``current`` naming a complete slot.
- While the marker says "trial" for this slot, every start of the daemon (``evsed run``)
  counts a boot. More boots than ``max_boots`` (a release that crashes or is killed by the
  watchdog) or a start after ``deadline`` rolls back: the marker becomes "rolled_back",
  ``current`` names the previous slot again, and the previous launcher is executed in place
  of this one. Every other command (``ctl``, ``check``, ``sim``, ``--version``...) runs the
  current slot and never reads or writes the marker: looking at a box on trial is no boot.
- With ``verify_s`` set, the deadline runs from the first boot of the new slot, not from the
  install: a release installed while the service was stopped gets its full time when it starts.
- The daemon of the new release ends the trial (deleting the marker) once it reached the
  backend, or rolls back itself with the same ``rollback`` when it cannot.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

MARKER = "update.json"
CURRENT = "current"


@dataclass(frozen=True)
class Marker:
    state: str  # "trial" | "rolled_back"
    slot: str  # the slot on trial (resolved path)
    previous: str  # what ``current`` named before (resolved path)
    request_id: int | None
    signed: bool
    from_version: str
    to_version: str | None  # None: an external installer, version unknown beforehand
    deadline: float  # wall clock (s since the epoch): survives reboots, unlike monotonic time
    max_boots: int
    boots: int = 0
    failure: str = ""  # the status to report after a rollback
    reason: str = ""
    verify_s: float = 0.0  # > 0: the first boot sets deadline = that boot + verify_s


def read_marker(root: Path) -> Marker | None:
    try:
        raw = json.loads((root / MARKER).read_text())
        return Marker(**{f.name: raw[f.name] for f in fields(Marker) if f.name in raw})
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, OSError):
        return None  # a marker we cannot read decides nothing: the current slot runs


def write_marker(root: Path, marker: Marker | None) -> None:
    path = root / MARKER
    if marker is None:
        path.unlink(missing_ok=True)
    else:
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(asdict(marker), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    fsync_dir(root)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch_current(root: Path, target: Path) -> None:
    tmp = root / (CURRENT + ".new")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, root / CURRENT)
    fsync_dir(root)


def count_boot(marker: Marker, now: float) -> Marker:
    """The marker after one more boot of the slot on trial. Pure."""
    first = marker.boots == 0 and marker.verify_s > 0
    return replace(marker, boots=marker.boots + 1, deadline=now + marker.verify_s if first else marker.deadline)


def decide(marker: Marker | None, this_slot: str, now: float) -> str:
    """ "run" this slot, or "rollback" to the previous one. Pure."""
    if marker is None or marker.state != "trial" or marker.slot != this_slot:
        return "run"
    if marker.boots > marker.max_boots:
        return "rollback"
    if now > marker.deadline:
        return "rollback"
    return "run"


def rollback(root: Path, marker: Marker, failure: str, reason: str) -> Path:
    """Make the previous slot current again; the marker keeps what to report. Returns it."""
    previous = Path(marker.previous)
    write_marker(root, replace(marker, state="rolled_back", failure=failure, reason=reason))
    switch_current(root, previous)
    return previous


def is_boot(args: list[str]) -> bool:
    """Only a daemon start is a boot of the release on trial. Pure."""
    return args[:1] == ["run"]


def boot(root: Path, slot: Path) -> None:
    """Count this boot if ``slot`` is on trial; past its boots or deadline, run the previous slot."""
    marker, now = read_marker(root), time.time()
    if marker is not None and marker.state == "trial" and marker.slot == str(slot):
        marker = count_boot(marker, now)
        write_marker(root, marker)
    if decide(marker, str(slot), now) == "rollback":
        assert marker is not None
        why = f"boot {marker.boots} of at most {marker.max_boots}" if marker.boots > marker.max_boots else "too late"
        previous = rollback(root, marker, "InstallationFailed", f"release {marker.to_version} did not come up ({why})")
        print(f"evsed launcher: rolled back to {previous}: {why}", file=sys.stderr, flush=True)
        launcher = previous / "bin" / "evsed"
        os.execv(launcher, [str(launcher), *sys.argv[1:]])


def main() -> None:
    slot = Path(__file__).resolve().parent.parent
    if is_boot(sys.argv[1:]):
        boot(slot.parent.parent, slot)
    sys.path.insert(0, str(slot / "lib"))
    # The slot's own program, found in its lib at run time: this script is no module of it.
    sys.exit(importlib.import_module("controller.cli").main())


if __name__ == "__main__":
    main()
