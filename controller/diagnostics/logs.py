"""The log files a diagnostics upload is made of, kept by the daemon while it runs.

Rules kept here:
- Under ``<state_dir>/logs``: ``evsed.log`` (every record of the daemon's loggers) and
  ``ocpp.log`` (every OCPP frame in and out). Both rotate by size: ``max_bytes`` per file,
  ``backups`` older files; nothing else grows.
- Each line starts with its UTC timestamp (``2025-01-31T12:00:00.123+00:00``), which is what
  ``lines_between`` filters on; a line without one (a traceback) belongs to the line above.
- Frames are redacted before they are written: a ChangeConfiguration of AuthorizationKey (in
  any letter case: keys are case-insensitive) keeps its key name, never its value, as does a
  2.0.1 SetVariables entry writing BasicAuthPassword; a URL keeps its user but not its
  password (GetDiagnostics, GetLog and firmware locations may carry FTP credentials). A frame
  longer than ``FRAME_LOG_CHARS`` is written as its head and its length (a URL cut off in its
  credentials loses them too), and redaction takes time linear in what it reads: one hostile
  frame costs the loop no more than a few milliseconds here.
- Lines are staged in RAM that outlives the process (tmpfs: stage.py) and reach storage in few
  large appends, at most ``STAGE_AGE_S`` (5 minutes) late: a kill -9 loses no line, a power
  cut may lose the staged ones. Where no private tmpfs directory is to be had, the lines go
  straight to storage, with one warning. ``security.log`` (controller/ocpp/security_log.py)
  is not kept here and not staged.
- Whoever reads the files calls ``flush()`` first, on this object or on any ``LogFiles`` of
  the same directory (the local API's download makes its own): it moves the stage of the one
  that runs in this process, so the reader sees every line up to now.
- ``stop()`` moves the stage, detaches and closes every handler; the daemon's other logging is
  untouched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from controller.clock import parse_time
from controller.diagnostics.stage import StagedHandler, StageRefused, stage_dir

SECRET_KEYS = frozenset({"authorizationkey", "basicauthpassword"})  # casefolded: 1.6 keys, 2.0.1 variables
REDACTED = "***"
FRAME_LOGGER = "evsed.ocpp.frames"
FRAME_LOG_CHARS = 8192

log = logging.getLogger(__name__)


class Frame(Protocol):
    """A frame as the OCPP link reports it (``controller.ocpp.link.Frame``)."""

    @property
    def direction(self) -> str: ...  # "in" / "out"

    @property
    def text(self) -> str: ...


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


# "://user:password@" of any URL. Anchored on the literal "://" (found by a fast scan) and
# possessive, so no character is looked at twice: linear time however long a run of letters.
_URL_PASSWORD = re.compile(r'(://[^:/@\s"]*+:)[^@\s"/]*+@')
_CUT_CREDENTIALS = re.compile(r'://[^@\s"/]*+\Z')  # a URL the cut ends in, maybe in its password


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _names_secret(text: str) -> bool:
    """A secret key is named in ``text``, also spelled with JSON escapes (``\\u0041uthorizationKey``)."""
    plain = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\u" in text else text
    folded = plain.casefold()
    return any(key in folded for key in SECRET_KEYS)


def redact_frame(text: str) -> str:
    """``text`` with URL passwords and the value of a secret configuration key replaced."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
    if not _names_secret(text):
        return text
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return REDACTED  # unreadable, yet it names a secret: keep nothing of it
    if not (isinstance(frame, list) and len(frame) == 4 and isinstance(frame[3], dict)):
        return text
    payload = frame[3]
    if frame[2] == "ChangeConfiguration" and str(payload.get("key")).casefold() in SECRET_KEYS:
        frame[3] = {**payload, "value": REDACTED}
    elif frame[2] == "SetVariables" and isinstance(payload.get("setVariableData"), list):
        frame[3] = {**payload, "setVariableData": [_without_secret(d) for d in payload["setVariableData"]]}
    else:
        return text
    return json.dumps(frame, separators=(",", ":"))


def _without_secret(data: Any) -> Any:
    """A 2.0.1 SetVariableData entry, its value replaced when it writes a secret variable."""
    variable = data.get("variable") if isinstance(data, dict) else None
    if isinstance(variable, dict) and str(variable.get("name")).casefold() in SECRET_KEYS:
        return {**data, "attributeValue": REDACTED}
    return data


def frame_line(text: str) -> str:
    """What ``ocpp.log`` keeps of one frame: redacted, a long one as its head and its length."""
    if len(text) <= FRAME_LOG_CHARS:
        return redact_frame(text)
    head = _CUT_CREDENTIALS.sub("://" + REDACTED, text[:FRAME_LOG_CHARS])
    return f"{redact_frame(head)}... [{len(text)} characters]"


def timestamp_of(line: str) -> datetime | None:
    head = line.split(" ", 1)[0]
    if len(head) < 19 or head[4:5] != "-" or head[10:11] != "T":
        return None
    try:
        return parse_time(head, assume_utc=True)
    except ValueError:
        return None


def lines_between(lines: Iterable[str], start: datetime | None, stop: datetime | None) -> Iterator[str]:
    """The lines stamped within [start, stop], with their continuation lines. Pure."""
    keep = start is None
    for line in lines:
        stamp = timestamp_of(line)
        if stamp is not None:
            keep = (start is None or stamp >= start) and (stop is None or stamp <= stop)
        if keep:
            yield line


class LogFiles:
    running: ClassVar[dict[Path, LogFiles]] = {}  # started and not stopped, by resolved directory

    def __init__(self, directory: Path, max_bytes: int, backups: int):
        self.directory = directory
        self.max_bytes, self.backups = max_bytes, backups
        self._daemon: logging.Handler | None = None
        self._frames: logging.Handler | None = None
        self._stage: Path | None = None
        self._frame_log = logging.getLogger(FRAME_LOGGER)

    @property
    def daemon_log(self) -> Path:
        return self.directory / "evsed.log"

    @property
    def ocpp_log(self) -> Path:
        return self.directory / "ocpp.log"

    def _handler(self, path: Path, fmt: str) -> logging.Handler:
        handler: logging.Handler
        if self._stage is not None:
            handler = StagedHandler(self._stage / path.name, path, self.max_bytes, self.backups)
        else:
            import logging.handlers  # here: only when no stage could be had

            handler = logging.handlers.RotatingFileHandler(path, maxBytes=self.max_bytes, backupCount=self.backups,
                                                           encoding="utf-8")  # fmt: skip
        handler.setFormatter(_UtcFormatter(fmt))
        return handler

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        refused = None
        try:
            self._stage = stage_dir(self.directory)
        except StageRefused as exc:
            refused = exc
        self._daemon = self._handler(self.daemon_log, "%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._daemon.addFilter(lambda record: record.name != FRAME_LOGGER)
        logging.getLogger().addHandler(self._daemon)
        self._frames = self._handler(self.ocpp_log, "%(asctime)s %(message)s")
        self._frame_log.addHandler(self._frames)
        self._frame_log.setLevel(logging.INFO)
        self._frame_log.propagate = False  # frames go to ocpp.log only, not to the journal
        LogFiles.running[self.directory.resolve()] = self
        if refused is not None:
            log.warning("log lines are written to storage at once, not staged in RAM: %s", refused)

    def frame(self, frame: Frame) -> None:
        """``Link.frame_log``: one line per frame."""
        self._frame_log.info("%s %s", frame.direction, frame_line(frame.text))

    def stop(self) -> None:
        if LogFiles.running.get(self.directory.resolve()) is self:
            del LogFiles.running[self.directory.resolve()]
        if self._daemon is not None:
            logging.getLogger().removeHandler(self._daemon)
            self._daemon.close()
        if self._frames is not None:
            self._frame_log.removeHandler(self._frames)
            self._frames.close()
        if self._stage is not None:
            with contextlib.suppress(OSError):  # empty unless storage refused lines: they wait there
                self._stage.rmdir()
        self._daemon = self._frames = self._stage = None

    def flush(self) -> None:
        """Every line logged so far is in the files on storage (the running ``LogFiles`` of this
        directory, which may be another object)."""
        files = LogFiles.running.get(self.directory.resolve(), self)
        for handler in (files._daemon, files._frames):
            if handler is not None:
                handler.flush()

    @staticmethod
    def rotated(path: Path) -> list[Path]:
        """``path`` and its backups, oldest first."""
        backups = [p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()]
        backups.sort(key=lambda p: int(p.suffix[1:]), reverse=True)
        return [*backups, path] if path.exists() else backups
