"""The OCPP 1.6J bench for end-to-end tests: the real daemon on the simulated board, a real
websocket to the bench CSMS (sim/csms/) on loopback, a real SQLite file in tmp_path.

``Bench(csms, tmp_path, connectors=1, keys="")`` starts the daemon with ``CONFIG``; the
``csms`` and ``bench`` fixtures (conftest.py) give a started CSMS and a Bench on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from controller.config import parse
from controller.core.reservations import Reservation
from controller.daemon import Daemon
from controller.ocpp.v16.status import connector_status
from controller.safety.process import open_board
from sim.csms import Csms

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
[station]
charge_point_id = "CP-TEST"
vendor = "evsed"
model = "bench"
serial_number = "SN-1"

[board]
type = "sim"
voltage_v = 230.0
ev_reaction_s = 0.2

{connectors}

[charging]
authorize = "ocpp"
connection_timeout_s = 30.0

[loop]
meter_interval_s = 0.2
meter_timeout_s = 2.0

[storage]
state_dir = "{state_dir}"

[api]
listen = "127.0.0.1:0"

[ocpp]
url = "ws://127.0.0.1:{port}"
reconnect_cap_s = 0.2

[ocpp.keys]
MeterValueSampleInterval = 1
StopTxnSampledData = "Energy.Active.Import.Register"
MeterValuesSampledData = "{measurands}"
"""
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Current.Offered,Frequency"
CONNECTOR = "[[connector]]\nid = {id}\nphases = 3\nmax_current_a = 32.0\n"
EV = {"max_current_a": 16.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}
WITHIN = 15.0


async def until(predicate: Callable[[], bool], within: float = WITHIN) -> None:
    """Poll with a deadline for state that has no event of its own (the daemon's internals)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


class Bench:
    def __init__(self, csms: Csms, tmp_path: Path, connectors: int = 1, keys: str = "", lock: bool = False,
                 sections: str = ""):  # fmt: skip
        """``keys``: extra ``[ocpp.keys]`` lines (that section comes last in CONFIG); ``lock``:
        sockets with a cable lock; ``sections``: more TOML tables (``[grid]``...)."""
        self.csms, self.tmp_path, self.connectors, self.keys = csms, tmp_path, connectors, keys
        self.sections = sections
        self.connector = CONNECTOR + ("[connector.sim]\nlock = true\n" if lock else "")
        self.daemon: Daemon | None = None

    async def start(self) -> Daemon:
        text = (
            CONFIG.format(
                state_dir=self.tmp_path,
                port=self.csms.port,
                measurands=MEASURANDS,
                connectors="\n".join(self.connector.format(id=i + 1) for i in range(self.connectors)),
            )
            + self.keys
            + "\n"
            + self.sections
        )
        config = parse(text, "test")
        self.daemon = Daemon(config, open_board(config))
        await self.daemon.start()
        return self.daemon

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    async def wait(self, predicate: Callable[[Csms], bool]) -> None:
        async with asyncio.timeout(WITHIN):
            await self.csms.wait_for(predicate)

    def payloads(self, action: str) -> list[dict]:
        return [f[3] for f in self.csms.calls_received(action)]

    async def call(self, action: str, payload: dict) -> dict:
        async with asyncio.timeout(WITHIN):
            return await self.csms.call("CP-TEST", action, payload)

    def status_of(self, connector: int) -> str | None:
        sent = [p for p in self.payloads("StatusNotification") if p["connectorId"] == connector]
        return sent[-1]["status"] if sent else None

    async def wait_status(self, connector: int, status: str) -> None:
        await self.wait(lambda _c: self.status_of(connector) == status)


def v16_status(daemon: Daemon, connector: int) -> str:
    """The connector's status as the 1.6 front end projects it from the core's view."""
    return connector_status(daemon.station.view(connector))[0].value


def reservation(daemon: Daemon, reservation_id: int) -> Reservation:
    return next(r for r in daemon.station.reservations() if r.id == reservation_id)
