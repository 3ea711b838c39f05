"""``evsed sim``: the real daemon on the simulated board, driven by a scripted EV.

Rules kept here:
- Scenarios are data: a list of ``Step``s per name. A step acts on the simulated world
  (through the same ``Simulation`` calls the local API makes) and may wait for a connector
  status (OCPP 1.6 words, projected from the station's views), checked at every station
  event, not by sleeping.
- The daemon runs exactly as ``evsed run`` would, in a fresh temporary state
  directory, with its local API on a free port (or ``--api-port``) so ``evsed ctl``
  works against the bench while it runs.
- A run ends with a summary; ``--headless --json`` prints only one JSON object. The summary
  is not ok when a session the scenario started is still open at its end.
- The live view (sim/live.py) keeps log lines above it; the bench CSMS's frames are logged
  only with ``--frames``.
- The daemon talks OCPP 1.6J (or 2.0.1 with ``--ocpp 2.0.1``: the same scenario, the same
  configuration with ``[ocpp] version`` switched) to the bench CSMS, started on a free port
  (its counts are the summary's "ocpp"; for 2.0.1 also every transaction as the CSMS recorded
  its TransactionEvents), or to ``--csms URL``; the bench CSMS knows the bench's tokens. With
  2.0.1 the summary is not ok when a transaction reached the CSMS incomplete (a seqNo
  missing, no Ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from controller.clock import iso
from controller.config import ApiConfig, Config, StorageConfig, load, parse
from controller.core.events import Event
from controller.diagnostics.logs import FRAME_LOGGER
from controller.ocpp.v16.status import connector_status
from sim.live import LiveArea

if TYPE_CHECKING:
    from sim.csms import Csms

log = logging.getLogger("evsed.sim")


@dataclass(frozen=True)
class Step:
    action: str  # plug_in | unplug | swipe | ev | fault | house | hold
    connector: int = 1
    args: dict[str, Any] = field(default_factory=dict)
    until: str | None = None  # connector status to wait for after the action
    seconds: float = 0.0  # hold time


EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}

SCENARIOS: dict[str, tuple[str, list[Step]]] = {
    "basic": (
        "bench.toml",
        [
            Step("plug_in", 1, EV, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Charging"),
            Step("hold", seconds=12.0),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Finishing"),
            Step("unplug", 1, until="Available"),
        ],
    ),
    "two-connectors": (
        "bench-2.toml",
        [
            Step("plug_in", 1, EV, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Charging"),
            Step("plug_in", 2, {**EV, "phases": 1, "max_current_a": 16.0}, until="Preparing"),
            Step("swipe", 2, {"id_tag": "DEMO-TAG-2"}, until="Charging"),
            Step("hold", seconds=10.0),
            Step("ev", 2, {"action": "pause"}, until="SuspendedEV"),
            Step("hold", seconds=2.0),
            Step("ev", 2, {"action": "resume"}, until="Charging"),
            Step("hold", seconds=3.0),
            Step("unplug", 1, until="Available"),
            Step("unplug", 2, until="Available"),
        ],
    ),
    "fuse": (
        "bench-fuse.toml",
        [
            Step("house", args={"load_a": [3.0, 3.0, 3.0]}),
            Step("plug_in", 1, EV, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Charging"),
            Step("plug_in", 2, EV, until="Preparing"),
            Step("swipe", 2, {"id_tag": "DEMO-TAG-2"}, until="Charging"),
            Step("hold", seconds=6.0),
            # The oven and the heat pump: 20 A more on every phase. Both EVs go down to share
            # the 35 A fuse's room (35 - 1 - 23 = 11 A: one EV pauses, the other takes it).
            Step("house", args={"load_a": [23.0, 23.0, 23.0]}),
            Step("hold", seconds=12.0),
            Step("house", args={"load_a": [3.0, 3.0, 3.0]}),
            Step("hold", seconds=10.0),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Finishing"),
            Step("swipe", 2, {"id_tag": "DEMO-TAG-2"}, until="Finishing"),
            Step("unplug", 1, until="Available"),
            Step("unplug", 2, until="Available"),
        ],
    ),
    "solar": (
        "bench-solar.toml",
        [
            Step("house", args={"load_a": [1.0, 1.0, 1.0]}),
            Step("plug_in", 1, {**EV, "battery_kwh": 200.0}, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="SuspendedEVSE"),
            # Sunrise now, sunset in two minutes, three clouds passing.
            Step("house", args={"solar": {"peak_w": 9000.0, "day_s": 120.0, "cloudy": True}}),
            Step("hold", seconds=124.0),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Finishing"),
            Step("unplug", 1, until="Available"),
        ],
    ),
    "faults": (
        "bench.toml",
        [
            Step("plug_in", 1, EV, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-1"}, until="Charging"),
            Step("hold", seconds=3.0),
            # The meter goes silent: charging is suspended, the session survives and resumes.
            Step("fault", 1, {"kind": "meter_offline", "active": True}, until="Faulted"),
            Step("fault", 1, {"kind": "meter_offline", "active": False}, until="Charging"),
            Step("fault", 1, {"kind": "overtemp", "active": True}, until="Faulted"),
            Step("fault", 1, {"kind": "overtemp", "active": False}, until="Charging"),
            Step("hold", seconds=2.0),
            # A residual-current trip ends the session; the fault is latched until the EV leaves.
            Step("fault", 1, {"kind": "rcd", "active": True}, until="Faulted"),
            Step("fault", 1, {"kind": "rcd", "active": False}),
            Step("unplug", 1, until="Available"),
            # An EV without its pilot diode never gets power.
            Step("fault", 1, {"kind": "diode", "active": True}),
            Step("plug_in", 1, EV, until="Preparing"),
            Step("swipe", 1, {"id_tag": "DEMO-TAG-2"}, until="Faulted"),
            Step("unplug", 1, until="Available"),
            Step("fault", 1, {"kind": "diode", "active": False}),
        ],
    ),
}

WAIT_S = 30.0
# What the bench CSMS sets after the boot, as an energy platform would, but sampling often
# enough that a demo session shows MeterValues.
DEMO_KEYS = {
    "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
    "MeterValueSampleInterval": "5",
}
DEMO_VARIABLES = {  # the same for 2.0.1: TransactionEvent Updated (MeterValuePeriodic) every 5 s
    "SampledDataCtrlr.TxUpdatedMeasurands": "Energy.Active.Import.Register,Power.Active.Import",
    "SampledDataCtrlr.TxUpdatedInterval": "5",
}
FIRMWARE_UPDATE = "firmware-update"  # a signed update into a new release, end to end (sim/firmware_demo.py)
SCENARIO_NAMES = (*SCENARIOS, FIRMWARE_UPDATE)


def bench_config(scenario: str, config_path: str | None, state_dir: Path, api_port: int,
                 version: str | None = None) -> Config:  # fmt: skip
    if config_path is not None:
        config = load(config_path)
    else:
        name = SCENARIOS[scenario][0]
        text = resources.files("sim").joinpath("configs", name).read_text(encoding="utf-8")
        config = parse(text, f"sim/configs/{name}")
    return dataclasses.replace(
        config, storage=StorageConfig(state_dir=state_dir), api=ApiConfig("127.0.0.1", api_port, True),
        ocpp=dataclasses.replace(config.ocpp, version=version or config.ocpp.version),
    )  # fmt: skip


class Bench:
    def __init__(self, daemon: Any):
        self.daemon = daemon
        self.changed = asyncio.Event()
        daemon.station.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.changed.set()

    def status(self, connector: int) -> str | None:
        view = self.daemon.station.view(connector)
        return connector_status(view)[0].value if view.indication is not None else None

    async def wait_status(self, connector: int, status: str, within: float = WAIT_S) -> None:
        deadline = time.monotonic() + within
        while self.status(connector) != status:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"connector {connector} stayed {self.status(connector)}, expected {status}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def run_step(self, step: Step) -> None:
        sim = self.daemon.board.simulation
        if step.action == "plug_in":
            sim.plug_in(step.connector, **step.args)
        elif step.action == "unplug":
            sim.unplug(step.connector)
        elif step.action == "swipe":
            sim.swipe(step.args["id_tag"])
        elif step.action == "ev":
            sim.ev_action(step.connector, step.args["action"])
        elif step.action == "fault":
            sim.set_fault(step.connector, step.args["kind"], step.args["active"])
        elif step.action == "house":
            sim.set_house(**step.args)
        elif step.action == "hold":
            await asyncio.sleep(step.seconds)  # the scenario's own pace: charging for a while
        else:
            raise ValueError(f"unknown step action {step.action!r}")
        if step.until is not None:
            await self.wait_status(step.connector, step.until)


def unstopped(transactions: list[dict[str, Any]]) -> str | None:
    """Every scenario ends with its EVs gone: a transaction still open then is a failure."""
    open_on = [str(t["evse"]) for t in transactions if t["stop_cause"] is None]
    return f"transaction on connector {', '.join(open_on)} not ended by the end of the scenario" if open_on else None


def incomplete(csms: Csms) -> str | None:
    """2.0.1: a transaction whose TransactionEvents did not all reach the CSMS (or came twice)."""
    broken = [tx_id for by_id in csms.ledger.transactions.values() for tx_id, tx in by_id.items()
              if not tx.complete or tx.duplicates or tx.gaps]  # fmt: skip
    return f"transaction {', '.join(broken)} incomplete at the CSMS" if broken else None


def live_parts(daemon: Any) -> list[str]:
    """One short line per connector for the live area (sim/live.py)."""
    from controller.api import connector_status_json

    parts = []
    for cid in daemon.station.evse_ids:
        c = connector_status_json(daemon, cid)
        meter = c["meter"] or {}
        drawn = max(meter.get("current_a") or [0.0])
        parts.append(
            f"#{cid} {c['status'] or '?':<13} {c.get('iec_state', '?'):<2} "
            f"offered {c.get('offered_a', 0):4.1f} A drawn {drawn:4.1f} A "
            f"{meter.get('power_w', 0) / 1000:5.2f} kW "
            f"{(c['transaction'] or {}).get('energy_wh', 0):6.1f} Wh"
        )
    if daemon.screen is not None and daemon.board.simulation is not None:
        rows = daemon.board.simulation.display_text()
        while rows and not rows[-1]:
            rows.pop()
        parts.append("display [" + " / ".join(rows) + "]")
    site = daemon.site
    if site is not None and site.grid is not None and daemon.board.simulation is not None:
        house = daemon.board.simulation.house_snapshot()
        grid = " / ".join(f"{a:5.1f}" for a in site.grid.current_a)
        fuse = f" of {site.rules.main_fuse_a:g} A" if site.grid_config.manages_fuse else ""
        parts.append(f"house {house['load_a'][0]:4.1f} A, solar {house['solar_w'] / 1000:4.1f} kW, grid {grid} A{fuse}")
    return parts


@dataclass
class GridWatch:
    """What the grid meter at the house connection saw during a scenario (energy scenarios)."""

    fuse_a: float
    max_a: float = 0.0
    over_s: float = 0.0  # time above the fuse's rating

    async def run(self, sim: Any, period_s: float = 0.1) -> None:
        while True:
            with contextlib.suppress(Exception):  # a silenced grid meter is part of a scenario
                amps = max(sim.read_grid().current_a)
                self.max_a = max(self.max_a, amps)
                if amps > self.fuse_a:
                    self.over_s += period_s
            await asyncio.sleep(period_s)

    def summary(self, sim: Any, connectors: tuple[int, ...]) -> dict[str, Any]:
        return {
            "fuse_a": self.fuse_a,
            "grid_max_a": round(self.max_a, 1),
            "over_fuse_s": round(self.over_s, 1),
            "contactor_closings": {str(c): sum(1 for _, on in sim.contactor_log(c) if on) for c in connectors},
            "phase_switches": {str(c): len(sim.phase_log(c)) for c in connectors},
        }


async def serve_csms_control(csms: Csms, say: Callable[[str], None]) -> web.AppRunner | None:
    """The bench CSMS's HTTP control API for ``evsed ctl csms``, if its port is free."""
    from controller.ctl import CSMS_API_PORT

    runner = web.AppRunner(csms.http_app())
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", CSMS_API_PORT).start()
    except OSError as exc:
        say(f"evsed sim: bench CSMS control API not served ({exc.strerror or exc}); evsed ctl csms is unavailable")
        await runner.cleanup()
        return None
    say(f"evsed sim: bench CSMS control API http://127.0.0.1:{CSMS_API_PORT} (evsed ctl csms ...)")
    return runner


async def start_tls_csms(csms: Csms, config: Config) -> Config:
    """``--tls``: the bench CSMS serves wss with a CA generated for this run; the daemon trusts
    that CA and connects with security profile 2 (Basic auth, a random AuthorizationKey (1.6) or
    BasicAuthPassword (2.0.1) provisioned in its secret file). The CSMS signs CSRs with the same CA, so the bench can go
    on to profile 3 (ExtendedTriggerMessage SignChargePointCertificate, then SecurityProfile 3)."""
    import secrets

    from controller.ocpp.config import AUTHORIZATION_KEY_FILE
    from controller.ocpp.v201.credentials import PASSWORD as v201_PASSWORD
    from controller.ocpp.v201.store import secret_file as v201_secret
    from controller.secret_files import write_secret
    from sim import pki
    from sim.csms import tls_context

    directory = config.storage.state_dir / "bench-pki"
    root = pki.authority("evsed bench root CA")
    cert, key = pki.server(root).write(directory, "csms")
    root_file = directory / "root.pem"
    root_file.write_text(root.cert_pem)
    password = secrets.token_hex(16)
    csms.config.passwords[config.ocpp.charge_point_id or config.station.charge_point_id] = password
    csms.signer = root
    where = {"1.6": AUTHORIZATION_KEY_FILE, "2.0.1": v201_secret(Path("secrets"), v201_PASSWORD)}
    write_secret(config.storage.state_dir / where[config.ocpp.version], password)
    port = await csms.start(ssl=tls_context(str(cert), str(key), str(root_file)))
    keys = {**config.ocpp.keys, "SecurityProfile": 2}
    return dataclasses.replace(config, ocpp=dataclasses.replace(config.ocpp, url=f"wss://localhost:{port}",
                                                                ca_file=root_file, keys=keys))  # fmt: skip


async def _run(scenario: str, config: Config, area: LiveArea | None, csms_url: str | None = None,
               tls: bool = False) -> dict[str, Any]:  # fmt: skip
    """The scenario against the daemon; ``area``: the live view (None: headless)."""
    from controller.daemon import Daemon
    from controller.safety.process import open_board
    from sim.csms import Csms, CsmsConfig

    csms = None
    if csms_url is None:  # the bench CSMS on a free port, knowing the bench's tokens
        csms = Csms(
            CsmsConfig(
                id_tags={"TAG1", "04A2B3C4", *config.charging.tokens}, configure=DEMO_KEYS, variables=DEMO_VARIABLES
            )
        )
        if tls:
            config = await start_tls_csms(csms, config)
        else:
            csms_url = f"ws://127.0.0.1:{await csms.start()}"
    if csms_url is not None:
        config = dataclasses.replace(config, ocpp=dataclasses.replace(config.ocpp, url=csms_url))
    daemon = Daemon(config, open_board(config))
    await daemon.start()
    bench = Bench(daemon)
    started = time.monotonic()
    error = None
    view: asyncio.Task[None] | None = None
    control = None
    if area is not None:
        area.say(f"evsed sim: scenario {scenario!r}, API http://127.0.0.1:{daemon.api.port}/api/status")
        if csms is not None:
            control = await serve_csms_control(csms, area.say)

        async def show(live: LiveArea) -> None:
            while True:
                live.show(live_parts(daemon))
                await asyncio.sleep(0.5 if live.tty else 2.0)

        view = asyncio.create_task(show(area))
    watch = GridWatch(config.grid.main_fuse_a) if config.grid.source == "meter" else None
    watching = asyncio.create_task(watch.run(daemon.board.simulation)) if watch is not None else None
    try:
        for step in SCENARIOS[scenario][1]:
            await bench.run_step(step)
    except (TimeoutError, ValueError) as exc:
        error = str(exc)
    finally:
        if view is not None:
            view.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await view
        if area is not None:
            area.show(live_parts(daemon))  # the end of the scenario, not the last 0.5 s tick
            area.close()
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        energy = watch.summary(daemon.board.simulation, daemon.station.evse_ids) if watch is not None else None
        run_transactions = daemon.ledger.history(100)
        faults = daemon.station.faults_seen()
        await daemon.stop()
        if control is not None:
            await control.cleanup()
        if csms is not None:
            await csms.stop()
    transactions = [
        {
            "evse": t.evse,
            "token": t.token.id if t.token is not None else None,
            "energy_wh": round(t.energy_wh, 1),
            "max_current_a": round(t.max_current_a, 1),
            "stop_cause": t.stop_cause.value if t.stop_cause else None,
            "meter_start_wh": round(t.meter_start_wh, 1),
            "meter_stop_wh": round(t.meter_stop_wh, 1) if t.meter_stop_wh is not None else None,
            "started_at": iso(t.started_at),
            "stopped_at": iso(t.stopped_at) if t.stopped_at else None,
        }
        for t in reversed(run_transactions)
    ]
    error = error or unstopped(transactions) or (incomplete(csms) if csms is not None else None)
    return {
        "scenario": scenario,
        "ok": error is None,
        "error": error,
        "seconds": round(time.monotonic() - started, 1),
        "transactions": transactions,
        "faults": faults,
        "ocpp": {**csms.summary(), "security_profiles": dict(csms.profiles)} if csms is not None else None,
        "energy": energy,
    }


def run_demo(
    scenario: str,
    *,
    headless: bool,
    as_json: bool,
    config_path: str | None = None,
    api_port: int = 0,
    csms_url: str | None = None,
    tls: bool = False,
    frames: bool = False,
    version: str | None = None,
) -> int:
    area = None if headless or as_json else LiveArea()
    logging.basicConfig(
        level=logging.INFO if area is not None else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        handlers=[area.handler()] if area is not None else None,
    )
    # The bench CSMS's library logs every frame at INFO: only with --frames. websockets' INFO
    # lines (listening, connection open / closed) say nothing the daemon does not.
    logging.getLogger("ocpp").setLevel(logging.INFO if frames else logging.WARNING)
    if frames and csms_url is not None:  # no bench CSMS to log them: the daemon's own frame log, shown here too
        shown = logging.getLogger(FRAME_LOGGER)
        for handler in logging.getLogger().handlers:
            shown.addHandler(handler)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="evsed-sim-") as state_dir:
        if scenario == FIRMWARE_UPDATE:  # the daemon runs as a subprocess from A/B slots: sim/firmware_demo.py
            from sim.firmware_demo import run_firmware_update

            summary = asyncio.run(run_firmware_update(Path(state_dir), version or "1.6"))
        else:
            config = bench_config(scenario, config_path, Path(state_dir), api_port, version)
            summary = asyncio.run(_run(scenario, config, area, csms_url, tls))
    if as_json:
        print(json.dumps(summary))
    else:
        print(
            f"scenario {scenario}: {'done' if summary['ok'] else 'FAILED: ' + str(summary['error'])} "
            f"in {summary['seconds']} s"
        )
        for t in summary["transactions"]:
            print(
                f"  connector {t['evse']}: {t['token'] or '-':<12} {t['energy_wh']:8.1f} Wh  "
                f"max {t['max_current_a']:4.1f} A  ended: {t['stop_cause']}"
            )
        for f in summary["faults"]:
            print(f"  fault on connector {f['connector']}: {f['kind']} at {f['at']}")
        firmware = summary.get("firmware")
        if firmware is not None:
            print(
                f"  firmware {firmware['from']} -> {firmware['to']}: {' -> '.join(firmware['statuses']) or 'no status'}"
            )
    return 0 if summary["ok"] else 1
