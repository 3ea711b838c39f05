"""Installing a verified release: the built-in A/B slots, or an external installer command.

Rules kept here:
- Built-in: the release is unpacked into the slot ``current`` does not name
  (``<root>/slots/a`` or ``b``), first as ``<slot>.partial``, fsynced, then renamed; the slot
  gets ``bin/evsed``, the launcher (``launcher.py``) behind a ``#!`` naming this interpreter,
  so the new release runs on the same environment, offline, from the artifact alone. Then
  the trial marker is written and ``current`` switched, both atomically (see launcher.py).
- Without a ``current`` link the layout is not A/B (a development checkout): nothing is
  installed, because nothing could be rolled back.
- External (``installer_command``, e.g. ``rauc install {file}``): run with the artifact's
  path; exit 0 = installed, and the command owns the switch and any rollback. The marker is
  written the same way so the restarted daemon reports Installed.
- Every failure is an ``InstallFailed`` carrying the status to report; the running slot and
  ``current`` are never touched by a failed install.
- ``install_checkout`` is what ``systemd/install.sh`` does with the wheel of a checkout: the
  first slot of a new installation, and afterwards an update like one over OCPP (the same
  verification, inactive slot, trial marker and ``[firmware]`` trial rule), never while
  another release is still on trial (its slot is the only one known to work).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from controller.firmware import FirmwareConfig, launcher
from controller.firmware.launcher import CURRENT, Marker, fsync_dir, switch_current, write_marker

if TYPE_CHECKING:
    from controller.firmware.release import Release

SLOTS = ("a", "b")
INSTALLER_TIMEOUT_S = 1800.0


class InstallFailed(Exception):
    def __init__(self, message: str, status: str = "InstallationFailed"):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Trial:
    """What the marker records about an update besides the slots."""

    request_id: int | None
    signed: bool
    from_version: str
    deadline: float
    max_boots: int
    verify_s: float = 0.0  # > 0: the deadline runs from the new release's first boot (launcher.py)


@dataclass(frozen=True)
class SlotRoot:
    root: Path
    python: str = sys.executable

    def active(self) -> Path | None:
        link = self.root / CURRENT
        return link.resolve() if link.is_symlink() else None

    def inactive(self) -> Path:
        active = self.active()
        return next(self.root / "slots" / s for s in SLOTS if (self.root / "slots" / s).resolve() != active)

    def verify(self, artifact: Path, max_unpacked: int) -> Release:
        # zipfile, email, csv, packaging: loaded when a release comes, not by every running daemon
        from controller.firmware.release import ReleaseInvalid, read_release, unmet_requirements

        try:
            release = read_release(artifact, max_unpacked)
        except ReleaseInvalid as exc:
            raise InstallFailed(f"release artifact rejected: {exc}", "InstallVerificationFailed") from exc
        unmet = unmet_requirements(release)
        if unmet:
            raise InstallFailed(f"release {release.version} needs {'; '.join(unmet)}", "InstallVerificationFailed")
        return release

    def provision(self, artifact: Path) -> Path:
        """The first slot of a new installation (no ``current`` yet): built and made current."""
        if self.active() is not None:
            raise InstallFailed(f"{self.root / CURRENT} exists: use an update, not a first install")
        self.verify(artifact, 1 << 30)
        slot = self._build(artifact)
        switch_current(self.root, slot)
        return slot

    def install(self, artifact: Path, release: Release, trial: Trial) -> Path:
        """Build the inactive slot from ``artifact`` and make it current, on trial."""
        previous = self.active()
        if previous is None:
            raise InstallFailed(f"{self.root / CURRENT} is not a symlink: no A/B layout to install into")
        slot = self._build(artifact)
        marker = Marker("trial", str(slot.resolve()), str(previous), trial.request_id, trial.signed,
                        trial.from_version, release.version, trial.deadline, trial.max_boots,
                        verify_s=trial.verify_s)  # fmt: skip
        write_marker(self.root, marker)
        switch_current(self.root, slot)
        return slot

    def _build(self, artifact: Path) -> Path:
        from controller.firmware.release import ReleaseInvalid, unpack

        slot = self.inactive()
        partial = slot.with_name(slot.name + ".partial")
        try:
            shutil.rmtree(partial, ignore_errors=True)
            unpack(artifact, partial / "lib")
            bin_dir = partial / "bin"
            bin_dir.mkdir()
            script = bin_dir / "evsed"
            source = Path(launcher.__file__).read_text(encoding="utf-8")
            script.write_text(f"#!{self.python}\n{source}", encoding="utf-8")
            script.chmod(0o755)
            _fsync_tree(partial)
            shutil.rmtree(slot, ignore_errors=True)  # the inactive slot: never what boots
            os.replace(partial, slot)
            fsync_dir(slot.parent)
        except (OSError, ReleaseInvalid) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise InstallFailed(f"building slot {slot}: {exc}") from exc
        return slot

    def version(self, slot: Path) -> str | None:
        """The evsed release unpacked in ``slot``; None if there is none."""
        import importlib.metadata

        for dist in importlib.metadata.distributions(path=[str(slot / "lib")]):
            if dist.metadata["Name"] == "evsed":
                return dist.version
        return None

    def marker(self) -> Marker | None:
        return launcher.read_marker(self.root)

    def finish_trial(self) -> None:
        write_marker(self.root, None)

    def rollback(self, marker: Marker, failure: str, reason: str) -> Path:
        return launcher.rollback(self.root, marker, failure, reason)


def install_checkout(root: SlotRoot, artifact: Path, config: FirmwareConfig, now: float) -> str:
    """``systemd/install.sh``: make the checkout's wheel ``artifact`` the release that boots.
    Returns what happened, as a line for the installer to print."""
    if root.active() is None:
        version = root.verify(artifact, config.max_size_bytes * 4).version
        return f"release {version} installed in {root.provision(artifact)}"
    pending = root.marker()
    if pending is not None and pending.state == "trial":
        raise InstallFailed(
            f"release {pending.to_version or '(external installer)'} is still on trial in {root.root / CURRENT}: "
            f"start evsed and let it end the trial (or roll back), then run the installer again"
        )
    release = root.verify(artifact, config.max_size_bytes * 4)
    previous = root.active()
    running = (root.version(previous) if previous else None) or "unknown"
    trial = Trial(None, False, running, now + config.verify_timeout_s, config.trial_boots, config.verify_timeout_s)
    slot = root.install(artifact, release, trial)
    return (
        f"release {release.version} installed in {slot}, on trial (was {running} in {previous}): it must start "
        f"within {config.trial_boots} boot(s) and come up (reach the backend, or start without one) within "
        f"{config.verify_timeout_s:.0f} s of its first start, else the launcher returns to {previous}"
    )


async def run_installer(command: str, artifact: Path) -> None:
    """Run the external installer; raises InstallFailed on a non-zero exit or a timeout."""
    args = [artifact.as_posix() if a == "{file}" else a for a in shlex.split(command)]
    if "{file}" not in shlex.split(command):
        args.append(artifact.as_posix())
    try:
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)  # fmt: skip
    except OSError as exc:
        raise InstallFailed(f"installer {args[0]!r} cannot run: {exc.strerror}") from exc
    try:
        async with asyncio.timeout(INSTALLER_TIMEOUT_S):
            output, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise InstallFailed(f"installer {args[0]!r} still running after {INSTALLER_TIMEOUT_S:.0f} s") from None
    if proc.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise InstallFailed(f"installer {args[0]!r} exited with {proc.returncode}: {tail[0][:200]}")


def _fsync_tree(top: Path) -> None:
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))
