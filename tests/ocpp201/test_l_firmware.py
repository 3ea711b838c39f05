"""Part 6 section 2.12, L FirmwareManagement: secure firmware updates (L01; errata 6.2.82/83).

The bench behind the station: an HTTP file server on loopback, a manufacturer CA whose root is
in ``[firmware] manufacturer_roots`` (the configured signingCertificate is issued by it), the
station's A/B slot root provisioned with a release, and a release of the running version (a
small real wheel: the restarted daemon in this process is the "new firmware", so it reports
Installed). The daemon restarts in this process after InstallRebooting, as systemd would
restart it; ``evsed sim --ocpp 2.0.1 --scenario firmware-update`` boots a real new release
through the slot launcher.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from firmware_bench import FileServer

from controller import __version__
from controller.firmware.slots import SlotRoot
from ocpp201.harness import MODULE, SECOND_TOKEN, Harness, require
from ocpp201.states import (
    authorized_local,
    connector_status,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_disconnected,
    firmware_status,
    reboot_before_firmware_activation,
)
from sim.release import Manufacturer, build_wheel

pytestmark = MODULE
STATUS = "FirmwareStatusNotification"
OFFSET_S = 2  # <Configured Install / Download Offset Period>


def ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


@dataclass
class Bench:
    files: FileServer
    manufacturer: Manufacturer
    slots: SlotRoot
    release: Path

    def request(self, request_id: int, name: str = "release.whl", **firmware: Any) -> dict[str, Any]:
        """UpdateFirmwareRequest as the test cases send it: retrieve- and installDateTime two hours ago."""
        return {
            "requestId": request_id,
            "firmware": {
                "location": self.files.url(f"/fw/{name}"),
                "retrieveDateTime": ago(2),
                "installDateTime": ago(2),
                "signingCertificate": self.manufacturer.signer.cert_pem,
                "signature": self.manufacturer.sign(self.files.files.get(name, self.release)),
                **firmware,
            },
        }

    def current(self) -> str:
        return os.readlink(self.slots.root / "current")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bench(cs: Harness, tmp_path_factory: Any) -> AsyncIterator[Bench]:
    work = tmp_path_factory.mktemp("firmware")
    (work / "src" / "controller").mkdir(parents=True)
    (work / "src" / "controller" / "__init__.py").write_text(f'__version__ = "{__version__}"\n')
    release = build_wheel(work / "releases", __version__, source=work / "src")
    slots = SlotRoot(cs.state_dir / "opt")
    await asyncio.to_thread(slots.provision, release)  # the station runs in this event loop
    manufacturer = await asyncio.to_thread(Manufacturer.create)
    (cs.state_dir / "manufacturer-roots.pem").write_text(manufacturer.root.cert_pem)
    broken = work / "broken.whl"
    broken.write_bytes(b"not a wheel, signed all the same\n" * 100)
    files = FileServer(files={"release.whl": release, "held.whl": release, "broken.whl": broken})
    await files.start()
    yield Bench(files, manufacturer, slots, release)
    for gate in files.held.values():
        gate.set()
    await files.stop()


def statuses(cs: Harness, since: int, request_id: int) -> list[str]:
    return [p["status"] for p in cs.calls(STATUS, since, lambda p: p.get("requestId") == request_id)]


async def reached(cs: Harness, since: int, request_id: int, wanted: list[str]) -> None:
    """The statuses of ``request_id`` since ``since`` are exactly ``wanted``, in order (L01.FR.01/10)."""
    await cs.expect(STATUS, firmware_status(wanted[-1], request_id), since)
    assert statuses(cs, since, request_id) == wanted
    assert all("requestId" in p for p in cs.calls(STATUS, since)), cs.calls(STATUS, since)


async def installed(cs: Harness, bench: Bench, since: int, request_id: int) -> None:
    """RebootBeforeFirmwareActivation, then (in any order) the connectors' status, Installed and
    the security event FirmwareUpdated; the trial of the new slot ended."""
    await reboot_before_firmware_activation(cs, request_id, since)
    await cs.expect(STATUS, firmware_status("Installed", request_id), since)
    event = await cs.expect("SecurityEventNotification", lambda p: p["type"] == "FirmwareUpdated", since)
    assert __version__ in event["techInfo"]
    assert bench.slots.marker() is None


async def installed_after_the_last_transaction(cs: Harness, bench: Bench, evse: int, request_id: int) -> None:
    """ParkingBayUnoccupied for the EVSE with the last transaction (the EV leaves, the transaction
    ends; the EVSE may go Unavailable for the install right away), then Installing and installed."""
    ended = cs.mark()
    tx = cs.station.view(evse).transaction
    assert tx is not None
    cs.unplug(evse)
    await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx.id
                    and p["eventType"] == "Ended", ended)  # fmt: skip
    await cs.expect(STATUS, firmware_status("Installing", request_id), ended)
    await installed(cs, bench, ended, request_id)


async def test_TC_L_01_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - Installation successful: Downloading, Downloaded, SignatureVerified,
    every connector Unavailable (step 9), Installing, RebootBeforeFirmwareActivation, Installed,
    FirmwareUpdated; every FirmwareStatusNotification with the requestId."""
    since, before = cs.mark(), bench.current()
    assert (await cs.call("UpdateFirmware", bench.request(101)))["status"] == "Accepted"  # step 2
    await reached(cs, since, 101, ["Downloading", "Downloaded", "SignatureVerified", "Installing"])  # 3-12
    for evse in cs.evse_ids:  # step 9
        await cs.expect("StatusNotification", connector_status("Unavailable", evse), since)
    await installed(cs, bench, since, 101)  # steps 14-21
    assert bench.current() != before
    assert statuses(cs, since, 101) == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                        "InstallRebooting", "Installed"]  # fmt: skip


async def test_TC_L_02_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - InstallScheduled: installDateTime in the future; InstallScheduled after
    SignatureVerified, installed once that time came."""
    since = cs.mark()
    install_at = datetime.now(UTC) + timedelta(seconds=OFFSET_S)
    request = bench.request(102, installDateTime=install_at.isoformat())
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
    await reached(cs, since, 102, ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"])  # 3-10
    installing = await cs.expect_frame(STATUS, firmware_status("Installing", 102), since)  # step 14
    assert datetime.now(UTC) >= install_at - timedelta(seconds=0.1)
    await installed(cs, bench, installing.index, 102)  # steps 16-23


async def test_TC_L_03_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - DownloadScheduled: retrieveDateTime in the future; DownloadScheduled
    first, the download once that time came, then installed."""
    since = cs.mark()
    retrieve_at = datetime.now(UTC) + timedelta(seconds=OFFSET_S)
    request = bench.request(103, retrieveDateTime=retrieve_at.isoformat())
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
    await reached(cs, since, 103, ["DownloadScheduled"])  # step 3
    await reached(cs, since, 103, ["DownloadScheduled", "Downloading", "Downloaded", "SignatureVerified",
                                   "Installing"])  # fmt: skip  # steps 5-14
    assert bench.files.requests.count(("GET", "/fw/release.whl")) >= 1
    await installed(cs, bench, since, 103)  # steps 16-23


async def test_TC_L_05_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - InvalidCertificate: a signing certificate no installed manufacturer
    root issued; InvalidCertificate and the security event InvalidFirmwareSigningCertificate;
    nothing downloaded."""
    since, fetched = cs.mark(), len(bench.files.requests)
    stranger = Manufacturer.create()
    request = bench.request(105, signingCertificate=stranger.signer.cert_pem,
                            signature=stranger.sign(bench.release))  # fmt: skip
    assert (await cs.call("UpdateFirmware", request))["status"] == "InvalidCertificate"  # step 2
    event = await cs.expect("SecurityEventNotification", since=since)  # step 3
    assert event["type"] == "InvalidFirmwareSigningCertificate"
    await cs.barrier()
    assert cs.calls(STATUS, since) == [] and len(bench.files.requests) == fetched


async def test_TC_L_06_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - InvalidSignature: a real signature of another file; Downloading,
    Downloaded, InvalidSignature and the security event InvalidFirmwareSignature (either order,
    errata 6.2.83); nothing installed."""
    since, before = cs.mark(), bench.current()
    request = bench.request(106, signature=bench.manufacturer.sign(bench.files.files["broken.whl"]))
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
    await reached(cs, since, 106, ["Downloading", "Downloaded", "InvalidSignature"])  # steps 3-8
    await cs.expect("SecurityEventNotification", lambda p: p["type"] == "InvalidFirmwareSignature", since)  # step 9
    await cs.barrier()
    assert statuses(cs, since, 106) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert bench.current() == before and cs.frontend.firmware_updater.status.value == "InvalidSignature"


async def test_TC_L_07_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - DownloadFailed: a location naming no file; Downloading, then after the
    configured attempts (DownloadPaused between them) DownloadFailed."""
    since = cs.mark()
    request = bench.request(107, location=bench.files.url("/fw/release.whl_does.not Exist"))
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
    await cs.expect(STATUS, firmware_status("DownloadFailed", 107), since)  # step 5
    sent = statuses(cs, since, 107)
    assert sent[0] == "Downloading" and sent[-1] == "DownloadFailed"  # step 3
    assert set(sent[1:-1]) <= {"DownloadPaused", "Downloading"}
    attempts = cs.daemon.config.firmware.retries  # the request names no retries: the configured attempts
    assert sent.count("Downloading") == attempts


async def test_TC_L_08_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - InstallVerificationFailed: a correctly signed file that is no
    release; SignatureVerified, the connectors Unavailable, Installing, InstallVerificationFailed,
    the connectors Available again, the running slot untouched."""
    since, before = cs.mark(), bench.current()
    request = bench.request(108, "broken.whl")
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
    await reached(cs, since, 108, ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                   "InstallVerificationFailed"])  # fmt: skip  # steps 3-16
    failed = cs.calls(STATUS, since).index({"status": "InstallVerificationFailed", "requestId": 108})
    for evse in cs.evse_ids:  # steps 9, 14
        unavailable = await cs.expect_frame("StatusNotification", connector_status("Unavailable", evse), since)
        await cs.expect("StatusNotification", connector_status("Available", evse), unavailable.index)
    assert failed >= 0 and bench.current() == before and cs.daemon.restart_requested is None


async def test_TC_L_10_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - AcceptedCanceled: a second request while the first downloads cancels
    it (AcceptedCanceled); from then on every status carries the second requestId, and the second
    update installs."""
    bench.files.held["held.whl"] = gate = asyncio.Event()  # the first download stays under way
    try:
        since = cs.mark()
        assert (await cs.call("UpdateFirmware", bench.request(110, "held.whl")))["status"] == "Accepted"  # step 2
        await cs.expect(STATUS, firmware_status("Downloading", 110), since)  # step 3
        await cs.until(lambda: ("GET", "/fw/held.whl") in bench.files.requests, what="the first download")
        second = cs.mark()
        assert (await cs.call("UpdateFirmware", bench.request(111)))["status"] == "AcceptedCanceled"  # step 6
        await reached(cs, second, 111, ["Downloading", "Downloaded", "SignatureVerified", "Installing"])  # 7-16
        await installed(cs, bench, second, 111)  # steps 18-25
        late = statuses(cs, second, 110)
        assert set(late) <= {"DownloadFailed", "InstallationFailed"}, late  # errata 6.2.82
    finally:
        gate.set()


async def test_TC_L_11_CS(cs: Harness) -> None:
    """Secure Firmware Update - Unable to cancel: for stations that cannot cancel an update."""
    require("C-60", declared=False)


async def test_TC_L_12_CS(cs: Harness) -> None:
    """Unable to download/install firmware with ongoing transaction - AllowNewSessionsPendingFirmware
    Update true: for stations that cannot download while a transaction runs."""
    require("AQ-7", declared=False)


async def test_TC_L_13_CS(cs: Harness) -> None:
    """Unable to download/install firmware with ongoing transaction - AllowNewSessionsPendingFirmware
    Update false: for stations that cannot download while a transaction runs."""
    require("AQ-7", declared=False)


async def test_TC_L_14_CS(cs: Harness, bench: Bench) -> None:
    """Unable to install and activate firmware with ongoing transaction - AllowNewSessionsPending-
    FirmwareUpdate true: downloaded and verified during the transaction, then InstallScheduled;
    a second transaction may start on the other EVSE meanwhile; installed once both ended."""
    require("C-20")
    await cs.set_variables({"ChargingStation.AllowNewSessionsPendingFirmwareUpdate": True})
    await energy_transfer_started_from_idle(cs, 1)
    since = cs.mark()
    assert (await cs.call("UpdateFirmware", bench.request(114)))["status"] == "Accepted"  # step 2
    await reached(cs, since, 114, ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"])  # 3-10
    await authorized_local(cs, SECOND_TOKEN)  # step 11: a new session is allowed
    await energy_transfer_started(cs, 2)
    assert cs.calls("StatusNotification", since, connector_status("Unavailable")) == []
    await ev_disconnected(cs, 1)  # step 12: the first transaction ends, EVSE 1 stays Available
    await cs.barrier()
    assert statuses(cs, since, 114)[-1] == "InstallScheduled", "nothing installs while a transaction runs"
    await installed_after_the_last_transaction(cs, bench, 2, 114)  # steps 13, 17, 19-26


async def test_TC_L_15_CS(cs: Harness, bench: Bench) -> None:
    """Unable to install and activate firmware with ongoing transaction - AllowNewSessionsPending-
    FirmwareUpdate false: InstallScheduled during the transaction, the idle EVSE Unavailable at
    once (L01.FR.07), installed once the transaction ended."""
    assert cs.variable("ChargingStation.AllowNewSessionsPendingFirmwareUpdate") is False
    await energy_transfer_started_from_idle(cs, 1)
    since = cs.mark()
    assert (await cs.call("UpdateFirmware", bench.request(115)))["status"] == "Accepted"  # step 2
    await reached(cs, since, 115, ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"])  # 3-10
    await cs.expect("StatusNotification", connector_status("Unavailable", 2), since)  # step 11
    await cs.barrier()
    assert cs.calls("StatusNotification", since, connector_status("Unavailable", 1)) == []  # still charging
    await installed_after_the_last_transaction(cs, bench, 1, 115)  # steps 13, 17, 19-26


async def test_TC_L_16_CS(cs: Harness) -> None:
    """Able to update firmware with ongoing transaction: for stations that install and activate
    firmware while a transaction runs."""
    require("C-43")


async def test_TC_L_18_CS(cs: Harness, bench: Bench) -> None:
    """Secure Firmware Update - Missing firmware signing certificate and signature: Rejected (a
    non-secure update is refused without ``[firmware] allow_unsigned``); nothing downloaded."""
    fetched = len(bench.files.requests)
    request = bench.request(118)
    del request["firmware"]["signingCertificate"], request["firmware"]["signature"]
    assert (await cs.call("UpdateFirmware", request))["status"] in ("Rejected", "InvalidCertificate")  # step 2
    await cs.barrier()
    assert len(bench.files.requests) == fetched


async def test_triggered_firmware_status_is_the_last_sent_and_idle_after_installed(cs: Harness, bench: Bench) -> None:
    """F06 / L01.FR.25-26: TriggerMessage FirmwareStatusNotification answers Idle (no requestId)
    after Installed, else the last status sent with its requestId."""

    async def triggered() -> dict[str, Any]:
        mark = cs.mark()
        assert (await cs.call("TriggerMessage", {"requestedMessage": STATUS}))["status"] == "Accepted"
        return await cs.expect(STATUS, since=mark)

    since = cs.mark()
    assert (await cs.call("UpdateFirmware", bench.request(120)))["status"] == "Accepted"
    await installed(cs, bench, since, 120)
    assert await triggered() == {"status": "Idle"}
    since = cs.mark()
    request = bench.request(121, signature=bench.manufacturer.sign(bench.files.files["broken.whl"]))
    assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"
    await cs.expect(STATUS, firmware_status("InvalidSignature", 121), since)
    assert await triggered() == {"status": "InvalidSignature", "requestId": 121}


async def test_TC_F_19_CS(cs: Harness, bench: Bench) -> None:
    """Trigger message - FirmwareStatusNotification - Downloading (block F, played here on the
    firmware bench; errata 6.2.59): while a download is under way the triggered status is
    Downloading with its requestId; the clean-up: the invalid signature ends the update
    (Downloaded, InvalidSignature)."""
    require("C-29.4")
    bench.files.held["held.whl"] = gate = asyncio.Event()  # the download stays under way
    try:
        since = cs.mark()
        request = bench.request(119, "held.whl", signature=bench.manufacturer.sign(bench.files.files["broken.whl"]))
        assert (await cs.call("UpdateFirmware", request))["status"] == "Accepted"  # step 2
        await cs.expect(STATUS, firmware_status("Downloading", 119), since)  # step 3
        await cs.until(lambda: ("GET", "/fw/held.whl") in bench.files.requests, what="the download under way")
        triggered = cs.mark()
        response = await cs.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
        assert response["status"] == "Accepted"  # step 6
        assert (await cs.expect(STATUS, since=triggered)) == {"status": "Downloading", "requestId": 119}  # step 7
    finally:
        gate.set()
    await reached(cs, since, 119, ["Downloading", "Downloading", "Downloaded", "InvalidSignature"])  # steps 9-12
