"""A real MQTT broker for the tests: Debian's mosquitto on a free loopback port.

- ``Broker(directory, users=..., tls=...)`` writes a mosquitto.conf there, starts the broker,
  waits until it accepts connections and ``stop()`` ends it (the process we started, by its pid).
- ``users``: {name: password} -> a password file made with mosquitto_passwd, anonymous refused.
- ``tls``: (certificate file, key file) of the server -> a TLS listener (TLS 1.2+) instead.
- ``MOSQUITTO`` is None when the binary is missing: tests then skip with that reason
  (.ci/run installs the package).
- ``Watcher(port, topics)``: a plain aiomqtt client (async context manager) recording every
  message on those topics, retained ones included.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

import aiomqtt

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
MISSING = "mosquitto is not installed (apt-get install mosquitto; .ci/run does it)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(
        self, directory: Path, users: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        assert MOSQUITTO is not None, MISSING
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # Started as root, mosquitto would become user "mosquitto" and lose access to the test's files.
        lines = [f"user {getpass.getuser()}", "per_listener_settings false", "persistence false", "log_dest stderr",
                 "log_type error"]  # fmt: skip
        if users:
            assert MOSQUITTO_PASSWD is not None, "mosquitto_passwd is missing"
            passwords = directory / "passwords"
            passwords.write_text("")
            for name, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwords), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self._lines = lines
        self._tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.start()

    def start(self) -> None:
        """Start (or start again, on a new port if the old one was taken meanwhile)."""
        for _ in range(5):  # a free port can be taken between choosing it and binding it
            port = self.port or _free_port()
            listener = [f"listener {port} 127.0.0.1"]
            if self._tls is not None:
                cert, key = self._tls
                listener += [f"certfile {cert}", f"keyfile {key}", "tls_version tlsv1.2"]
            conf = self.directory / "mosquitto.conf"
            conf.write_text("\n".join(listener + self._lines) + "\n")
            process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.PIPE)  # type: ignore[list-item]
            if self._accepting(port, process):
                self.process, self.port = process, port
                return
            process.kill()
            process.wait()
            self.port = 0
        raise RuntimeError("mosquitto did not start")

    @staticmethod
    def _accepting(port: int, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.02)  # polling a process we do not control: nothing to wait on
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None


class Watcher:
    """A plain aiomqtt client recording what arrives on some topics (retained ones included)."""

    def __init__(self, port: int, topics: list[str], **kwargs) -> None:
        self.port, self.topics, self.kwargs = port, topics, kwargs
        self.seen: list[tuple[str, str, bool]] = []
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def _run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, **self.kwargs) as client:
            for topic in self.topics:
                await client.subscribe(topic, qos=1)
            self._ready.set()
            async for m in client.messages:
                self.seen.append((str(m.topic), bytes(m.payload).decode(), bool(m.retain)))  # type: ignore[arg-type]

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def payloads(self, topic: str) -> list[str]:
        return [p for t, p, _ in self.seen if t == topic]
