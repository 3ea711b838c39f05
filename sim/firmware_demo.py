"""``evsed sim --scenario firmware-update``: a signed firmware update on the bench, end to end.

Rules kept here:
- Everything is real and on loopback: the bench CSMS, an HTTP server (aiohttp static files,
  Range-capable) serving a release wheel built from this checkout with the next version, a
  manufacturer CA made for the run, and ``evsed run`` in a subprocess started through the A/B
  slot launcher of a temporary slot root, as systemd would start it.
- The station speaks OCPP 1.6J, or 2.0.1 with ``version`` "2.0.1". The CSMS sends
  SignedUpdateFirmware (1.6) or UpdateFirmware (2.0.1), the same request; the scenario ends
  when the new release reports Installed (or a failure end state), then the daemon is stopped
  with SIGTERM.
- The summary's "firmware" is ``{"from", "to", "statuses"}`` (the statuses of the request, in
  order, from SignedFirmwareStatusNotification or the 2.0.1 FirmwareStatusNotification); "ok"
  means Installed with the new version in BootNotification.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from controller import __version__
from controller.firmware.slots import SlotRoot
from hal.config import format_toml
from sim.csms import Csms
from sim.release import Manufacturer, build_wheel

NEXT_VERSION = f"{__version__}+bench1"
END = ("Installed", "InstallationFailed", "InstallVerificationFailed", "InvalidSignature", "DownloadFailed")
WAIT_S = 60.0
REQUEST_ID = 1


@dataclass(frozen=True)
class Dialect:
    """What differs between the versions in this scenario."""

    update: str  # the CSMS's request
    status: str  # the station's status message
    statuses_at_boot: int  # StatusNotifications of a booted one-connector station

    def firmware_version(self, boot: dict[str, Any]) -> str:
        return str(boot["chargingStation"]["firmwareVersion"] if "chargingStation" in boot else boot["firmwareVersion"])


DIALECTS = {
    "1.6": Dialect("SignedUpdateFirmware", "SignedFirmwareStatusNotification", 2),  # connector 0 and 1
    "2.0.1": Dialect("UpdateFirmware", "FirmwareStatusNotification", 1),
}


async def run_firmware_update(work: Path, version: str = "1.6") -> dict[str, Any]:
    dialect = DIALECTS[version]
    started = time.monotonic()
    csms = Csms()
    port = await csms.start()
    manufacturer = Manufacturer.create()
    releases = work / "releases"
    wheel = build_wheel(releases, NEXT_VERSION)
    root = work / "opt"
    SlotRoot(root, python=sys.executable).provision(build_wheel(work / "first", __version__))
    (work / "roots.pem").write_text(manufacturer.root.cert_pem)
    bench = tomllib.loads(resources.files("sim").joinpath("configs", "bench.toml").read_text(encoding="utf-8"))
    bench.update(
        storage={"state_dir": str(work / "state")},
        api={"listen": "127.0.0.1:0"},
        ocpp={"url": f"ws://127.0.0.1:{port}", "reconnect_cap_s": 0.5, "version": version},
        firmware={"slot_root": str(root), "manufacturer_roots": str(work / "roots.pem"), "verify_timeout_s": 60},
    )
    config = work / "evsed.toml"
    config.write_text(format_toml(bench))
    app = web.Application()
    app.router.add_static("/fw/", releases)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = runner.addresses[0][1]
    env = {k: v for k, v in os.environ.items() if k != "INVOCATION_ID"}  # restart by re-executing in place
    log = (work / "evsed.log").open("w")
    proc = await asyncio.create_subprocess_exec(str(root / "current" / "bin" / "evsed"), "run", "--config", str(config),
                                                stdout=log, stderr=log, env=env)  # fmt: skip
    cp = "EVSED-BENCH-1"

    def statuses() -> list[str]:
        return [f[3]["status"] for f in csms.calls_received(dialect.status) if f[3].get("requestId") == REQUEST_ID]

    def boots() -> list[str]:
        return [dialect.firmware_version(f[3]) for f in csms.calls_received("BootNotification")]

    error = None
    try:
        async with asyncio.timeout(WAIT_S):
            await csms.wait_for(lambda c: cp in c.sessions
                                and c.received["StatusNotification"] >= dialect.statuses_at_boot)  # fmt: skip
            signature = manufacturer.sign(wheel)
            answer = await csms.call(cp, dialect.update, {
                "requestId": REQUEST_ID, "retries": 3, "retryInterval": 1,
                "firmware": {"location": f"http://127.0.0.1:{http_port}/fw/{wheel.name}",
                             "retrieveDateTime": "2000-01-01T00:00:00Z",
                             "signingCertificate": manufacturer.signer.cert_pem, "signature": signature},
            })  # fmt: skip
            if answer.get("status") != "Accepted":
                raise RuntimeError(f"{dialect.update} answered {answer.get('status')}")
            await csms.wait_for(lambda _c: any(s in END for s in statuses()))
        if statuses()[-1] != "Installed" or boots()[-1:] != [NEXT_VERSION]:
            error = f"update ended {statuses()[-1]}, booted {boots()}"
    except (TimeoutError, RuntimeError) as exc:
        error = str(exc) or f"no end state within {WAIT_S:.0f} s (statuses {statuses()})"
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 20)
        log.close()
        await runner.cleanup()
        await csms.stop()
    return {
        "scenario": "firmware-update",
        "ok": error is None,
        "error": error,
        "seconds": round(time.monotonic() - started, 1),
        "transactions": [],
        "faults": [],
        "ocpp": csms.summary(),
        "firmware": {"from": __version__, "to": NEXT_VERSION, "statuses": statuses()},
    }
