"""The log files' stage on tmpfs (controller/diagnostics/stage.py) with real files and a real
tmpfs directory: lines reach storage in few appends, a stage a SIGKILL left behind is
recovered in order, every reader sees every line, a stage directory that is not ours is
refused (the lines then go to storage at once), rotation still holds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, wait_until

from controller.diagnostics import stage
from controller.diagnostics.archive import build_archive, diagnostics_logs
from controller.diagnostics.logs import LogFiles
from controller.diagnostics.stage import StagedHandler, mount_type, refusal, stage_name

SHM = Path("/dev/shm")
pytestmark = pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm: no tmpfs to stage on")


class Frame:
    def __init__(self, text: str):
        self.direction, self.text = "out", text


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime directory on tmpfs of this test only, as systemd makes it."""
    path = SHM / f"evsed-test-{os.getpid()}-{tmp_path.name}"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(path))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=True)


def started(logs: Path, max_bytes: int = 1024 * 1024, backups: int = 3) -> LogFiles:
    files = LogFiles(logs, max_bytes, backups)
    files.start()
    return files


def frames(files: LogFiles, numbers: range, width: int = 200) -> None:
    for n in numbers:
        files.frame(Frame(f'[2,"{n:06d}","MeterValues",{{"pad":"{"x" * width}"}}]'))


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def numbers_in(text: str) -> list[int]:
    return [int(line.split('"')[1]) for line in text.splitlines() if '"MeterValues"' in line]


def test_lines_wait_in_ram_and_reach_storage_in_few_appends(tmp_path: Path, runtime: Path) -> None:
    files = started(tmp_path / "logs")
    try:
        staged = runtime / stage_name(tmp_path / "logs") / "ocpp.log"
        frames(files, range(10))
        assert numbers_in(staged.read_text()) == list(range(10))  # each line is on tmpfs at once
        assert size(files.ocpp_log) == 0
        frames(files, range(10, 1000))  # ~250 KB: a few moves of STAGE_BYTES each
        handler = files._frames
        assert isinstance(handler, StagedHandler)
        moves, moved = handler.moves, size(files.ocpp_log)
        # each move appended one full stage: STAGE_BYTES and less than a line more
        assert moves >= 3 and stage.STAGE_BYTES * moves <= moved < (stage.STAGE_BYTES + 300) * moves
        files.flush()
        assert numbers_in(files.ocpp_log.read_text()) == list(range(1000))
        assert staged.stat().st_size == 0
    finally:
        files.stop()
    assert not (runtime / stage_name(tmp_path / "logs")).exists()  # stop() leaves nothing in RAM


def test_a_stage_older_than_the_age_bound_moves_by_itself(
    tmp_path: Path, runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stage, "STAGE_AGE_S", 0.2)
    files = started(tmp_path / "logs")
    try:
        frames(files, range(3))
        wait_until(lambda: size(files.ocpp_log) and numbers_in(files.ocpp_log.read_text()) == [0, 1, 2])
    finally:
        files.stop()


WRITER = """
import sys
from pathlib import Path
from controller.diagnostics.logs import LogFiles

files = LogFiles(Path(sys.argv[1]), 1024 * 1024, 3)
files.start()
n = 0
while True:
    files.frame(type("F", (), {"direction": "out", "text": f'[2,"{n:06d}","MeterValues",{{}}]'})())
    n += 1
"""


def test_a_stage_a_sigkill_left_behind_is_appended_first_in_order(tmp_path: Path, runtime: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    files = LogFiles(logs, 1024 * 1024, 3)
    files.ocpp_log.write_text('2025-01-01T00:00:00.000+00:00 in [2,"old","Heartbeat",{}]\n')
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(logs)], cwd=REPO)
    staged = runtime / stage_name(logs) / "ocpp.log"
    try:
        # killed while writing, with lines on storage (moved) and lines staged
        wait_until(lambda: size(files.ocpp_log) > 2 * stage.STAGE_BYTES and size(staged) > 0)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    left = numbers_in(staged.read_text())
    assert left
    files.start()
    try:
        frames(files, range(1_000_000, 1_000_002))
        files.flush()
        text = files.ocpp_log.read_text()
    finally:
        files.stop()
    assert '"old"' in text.splitlines()[0]
    got = numbers_in(text)
    last = left[-1]
    # every line the killed writer wrote, in order, then the new ones; a kill between a move's
    # append and the stage's truncation may repeat one stage's lines, never lose one
    assert list(dict.fromkeys(got)) == [*range(last + 1), 1_000_000, 1_000_001]


def test_every_reader_sees_every_line_up_to_now(tmp_path: Path, runtime: Path) -> None:
    files = started(tmp_path / "logs")
    try:
        logging.getLogger("evsed.test").warning("a daemon record")
        frames(files, range(5))
        # the local API's download builds its own LogFiles of the same directory
        sets = diagnostics_logs(LogFiles(tmp_path / "logs", 1024 * 1024, 3))
        archive = build_archive(tmp_path / "a.tar.gz", config={}, status={}, logs=sets, start=None, stop=None)
    finally:
        files.stop()
    with tarfile.open(archive) as tar:
        ocpp = tar.extractfile("logs/ocpp.log").read().decode()  # type: ignore[union-attr]
        daemon = tar.extractfile("logs/evsed.log").read().decode()  # type: ignore[union-attr]
    assert numbers_in(ocpp) == list(range(5))
    assert "WARNING evsed.test: a daemon record" in daemon


def test_rotation_by_size_holds_through_the_stage(tmp_path: Path, runtime: Path) -> None:
    files = started(tmp_path / "logs", max_bytes=16 * 1024, backups=2)
    try:
        frames(files, range(600))  # ~150 KB through 16 KB files
        files.flush()
    finally:
        files.stop()
    kept = LogFiles.rotated(files.ocpp_log)
    assert [p.name for p in kept] == ["ocpp.log.2", "ocpp.log.1", "ocpp.log"]
    assert all(p.stat().st_size < 16 * 1024 for p in kept)
    got = numbers_in("".join(p.read_text() for p in kept))
    assert got == list(range(600 - len(got), 600))  # the newest lines, contiguous, in order


def hostile_symlink(path: Path, elsewhere: Path) -> None:
    path.symlink_to(elsewhere)


def hostile_mode(path: Path, elsewhere: Path) -> None:
    path.mkdir(mode=0o700)
    path.chmod(0o777)


def hostile_owner(path: Path, elsewhere: Path) -> None:
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)


@pytest.mark.parametrize("make", [hostile_symlink, hostile_mode, hostile_owner])
def test_a_stage_directory_not_ours_is_refused_and_lines_go_to_storage(
    tmp_path: Path, runtime: Path, make, caplog: pytest.LogCaptureFixture
) -> None:
    if make is hostile_owner and os.geteuid() != 0:
        pytest.skip("giving a directory to another owner takes root")
    elsewhere = runtime / "elsewhere"
    elsewhere.mkdir()
    make(runtime / stage_name(tmp_path / "logs"), elsewhere)
    files = started(tmp_path / "logs")
    try:
        frames(files, range(3))
        assert numbers_in(files.ocpp_log.read_text()) == [0, 1, 2]  # at once, on storage
    finally:
        files.stop()
    assert not any(elsewhere.iterdir())
    warnings = [r for r in caplog.records if "not staged in RAM" in r.getMessage()]
    assert len(warnings) == 1 and stage_name(tmp_path / "logs") in warnings[0].getMessage()
    assert "not staged in RAM" in files.daemon_log.read_text()


def test_a_runtime_directory_on_storage_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if mount_type(Path("/proc/self/mounts").read_text(), tmp_path.resolve()) in stage.TMPFS:
        pytest.skip("the test's temporary directory is on tmpfs here")
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    files = started(tmp_path / "logs")
    try:
        frames(files, range(2))
        assert numbers_in(files.ocpp_log.read_text()) == [0, 1]
        assert "is not on tmpfs" in files.daemon_log.read_text()
    finally:
        files.stop()
    assert not any((tmp_path / "run").iterdir())


MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0
/dev/sda1 /run/media/my\\040card vfat rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/dev/shm/evsed-1", "tmpfs"), ("/run/evsed", "tmpfs"), ("/run/media/my card/x", "vfat"),
     ("/var/lib/evsed", "ext4"), ("/dev/shmem", "ext4"), ("/", "ext4")],
)  # fmt: skip
def test_mount_type_is_the_longest_mount_point_above_the_path(path: str, kind: str) -> None:
    assert mount_type(MOUNTS, Path(path)) == kind


def test_refusal_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir(mode=0o700)
    (tmp_path / "f").write_text("")
    (tmp_path / "l").symlink_to(tmp_path / "d")
    me = os.geteuid()
    assert refusal(os.lstat(tmp_path / "d"), me) is None
    assert refusal(os.lstat(tmp_path / "d"), me + 1) == f"it belongs to uid {me}, not {me + 1}"
    assert refusal(os.lstat(tmp_path / "l"), me) == "it is a symlink"
    assert refusal(os.lstat(tmp_path / "f"), me) == "it is not a directory"
    (tmp_path / "d").chmod(0o750)
    assert refusal(os.lstat(tmp_path / "d"), me) == "its mode is 750, open to others"
