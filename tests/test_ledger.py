"""controller.core.ledger on real SQLite files: station-made UUIDs, hooks inside the row's own SQLite
transaction, recovery of whatever was left open, and the upgrade of a database written by the
version before the ledger (tests/data/legacy-d0b4d1c.db).

The legacy database was written by evsed at commit d0b4d1c (sessions table, integer session ids
as journal keys, ChangeAvailability in the 1.6 front end's own table): the daemon on the sim
board with two connectors, OCPP 1.6 to the bench CSMS. Session 1 (TAG1, connector 1) started,
was confirmed (CSMS transactionId 1) and stopped Local; session 2 (TAG1, connector 1) started and
was confirmed (transactionId 2); then the link went down: session 3 (TAG-C, connector 2)
started and was stopped Remote, session 4 (TAG-D, connector 2) started, periodic MeterValues of
2, 3 and 4 were queued, connector 2 was made Inoperative, and the process died (no session
ended): ten journal rows wait, sessions 2 and 4 are open.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ocpp_bench import Bench

from controller.core.ledger import Change, Ledger, Transaction
from controller.core.vocabulary import FREE_VEND, StopCause, Token, TokenType, TxPoint
from controller.ocpp.v16.idtag import token
from controller.storage import Database

LEGACY = Path(__file__).parent / "data" / "legacy-d0b4d1c.db"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TAG = Token("TAG1", TokenType.ISO14443, "FLEET")


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


async def test_ids_are_uuids_that_never_repeat_and_rows_round_trip(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    ledger = Ledger(db)
    started = [await ledger.start(1, TxPoint.EV_CONNECTED, 10.0, NOW) for _ in range(50)]
    assert len({t.id for t in started}) == 50 and all(len(t.id) == 36 and t.id.count("-") == 4 for t in started)
    bound = await ledger.update(Transaction(**{**started[0].__dict__, "token": TAG, "evse": 2}))
    ended = await ledger.end(bound, StopCause.GROUND_FAULT, 12.5, NOW, Token("OTHER", TokenType.KEY_CODE))
    assert (ended.stop_cause, ended.energy_wh, ended.stop_token.type) == (StopCause.GROUND_FAULT, 2.5, "KeyCode")
    db.close()
    reopened = Ledger(Database(tmp_path / "evsed.db"))
    [first] = [t for t in reopened.history(100) if t.id == started[0].id]
    assert first == ended  # token, group, evse, cause and stop token as written
    assert len(reopened.open_transactions()) == 49
    reopened.db.close()


async def test_a_failing_hook_leaves_neither_the_row_nor_the_message(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    ledger = Ledger(db)
    db.migrate("test_messages", "CREATE TABLE messages (tx TEXT, change TEXT)")
    failing = [False]

    def hook(conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        conn.execute("INSERT INTO messages VALUES (?, ?)", (tx.id, change.value))
        if failing[0]:
            raise RuntimeError("the disk is full")

    ledger.hooks.append(hook)
    tx = await ledger.start(1, TxPoint.POWER_PATH_CLOSED, 0.0, NOW, token=FREE_VEND)
    failing[0] = True
    with pytest.raises(RuntimeError):
        await ledger.end(tx, StopCause.LOCAL, 1.0, NOW)
    assert [t.id for t in ledger.open_transactions()] == [tx.id]  # still open: nothing half-written
    messages = db.run_sync(lambda c: [tuple(r) for r in c.execute("SELECT tx, change FROM messages")])
    assert messages == [(tx.id, "started")]
    db.close()


async def test_a_customer_s_token_is_found_and_forgotten_in_ended_transactions_only(tmp_path) -> None:
    """of_token: started or stopped by the token (id ignoring case, same type); forget removes it
    (and its group) from the ended ones; a running one keeps it, other tokens stay."""
    ledger = Ledger(Database(tmp_path / "evsed.db"))
    other, same_id_other_type = Token("TAG2", TokenType.ISO14443), Token("TAG1", TokenType.KEY_CODE)
    own = await ledger.end(await ledger.start(1, TxPoint.AUTHORIZED, 0.0, NOW, token=TAG), StopCause.LOCAL, 1.0, NOW)
    stopped = await ledger.end(await ledger.start(1, TxPoint.AUTHORIZED, 0.0, NOW, token=other), StopCause.LOCAL, 1.0,
                               NOW, Token("tag1", TokenType.ISO14443))  # fmt: skip
    await ledger.start(2, TxPoint.AUTHORIZED, 0.0, NOW, token=same_id_other_type)
    running = await ledger.start(1, TxPoint.AUTHORIZED, 0.0, NOW, token=Token("tag1", TokenType.ISO14443))
    assert [t.id for t in await ledger.of_token(TAG)] == [own.id, stopped.id, running.id]
    assert {t.id for t in await ledger.forget(Token("Tag1", TokenType.ISO14443))} == {own.id, stopped.id}
    assert [t.id for t in await ledger.of_token(TAG)] == [running.id]
    after = {t.id: t for t in ledger.history(10)}
    assert after[own.id].token is None and after[own.id].stop_cause is StopCause.LOCAL
    assert after[stopped.id].token == other and after[stopped.id].stop_token is None
    assert len(await ledger.of_token(same_id_other_type)) == 1
    ledger.db.close()


async def test_recovery_closes_every_open_transaction_with_power_loss_whatever_its_start(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    ledger = Ledger(db)
    unbound = await ledger.start(None, TxPoint.AUTHORIZED, 0.0, NOW, token=TAG)  # no EVSE chosen yet
    plugged = await ledger.start(1, TxPoint.EV_CONNECTED, 500.0, NOW)
    ended: list[Transaction] = []
    ledger.hooks.append(lambda _c, change, tx: ended.append(tx) if change is Change.ENDED else None)
    closed = ledger.recover(lambda evse: {1: 520.0}[evse], NOW)
    assert [(t.id, t.stop_cause, t.meter_stop_wh) for t in closed] == [
        (unbound.id, StopCause.POWER_LOSS, 0.0),  # no EVSE: the last value recorded
        (plugged.id, StopCause.POWER_LOSS, 520.0),  # the register at restart
    ]
    assert ended == closed and ledger.open_transactions() == []
    db.close()


def test_the_sessions_of_the_version_before_become_transactions(tmp_path) -> None:
    path = tmp_path / "evsed.db"
    shutil.copy(LEGACY, path)
    ledger = Ledger(Database(path))
    by_legacy = {
        legacy: t
        for legacy, t in zip(
            [r[0] for r in rows(path, "SELECT legacy_id FROM transactions ORDER BY rowid")],
            ledger.history(10)[::-1],
            strict=True,
        )
    }
    ledger.db.close()
    assert sorted(by_legacy) == [1, 2, 3, 4]
    assert len({t.id for t in by_legacy.values()}) == 4 and all(len(t.id) == 36 for t in by_legacy.values())
    assert [(t.evse, t.token, t.start_point, t.stop_cause) for t in by_legacy.values()] == [
        (1, Token("TAG1", TokenType.ISO14443), TxPoint.POWER_PATH_CLOSED, StopCause.LOCAL),
        (1, Token("TAG1", TokenType.ISO14443), TxPoint.POWER_PATH_CLOSED, None),
        (2, Token("TAG-C", TokenType.ISO14443), TxPoint.POWER_PATH_CLOSED, StopCause.REMOTE),
        (2, Token("TAG-D", TokenType.ISO14443), TxPoint.POWER_PATH_CLOSED, None),
    ]
    assert by_legacy[3].meter_stop_wh == pytest.approx(2007.052, abs=0.001)
    assert by_legacy[3].started_at == datetime(2026, 12, 1, 12, 41, 26, 523000, tzinfo=UTC)
    assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'sessions'") == []


async def test_a_database_of_the_version_before_upgrades_with_its_queue(csms, tmp_path) -> None:
    """The real daemon opens the legacy database: the queued messages keep their transactions
    (re-keyed to the new UUIDs), both open sessions are closed with PowerLoss and their
    StopTransactions carry the CSMS's ids, and connector 2 stays Inoperative."""
    csms.config.id_tags |= {"TAG-C", "TAG-D"}
    csms.transaction_ids = itertools.count(100)  # what the CSMS gives from now on
    shutil.copy(LEGACY, tmp_path / "evsed.db")
    bench = Bench(csms, tmp_path, connectors=2)
    daemon = await bench.start()
    try:
        keys = rows(tmp_path / "evsed.db", "SELECT legacy_id, id FROM transactions")
        uuid_of = dict(keys)
        await bench.wait(lambda c: c.received["StopTransaction"] >= 3)
        await daemon.ocpp.journal.wait_empty()
        sent = [(f[2], f[3]) for f in csms.calls_received("StartTransaction") + csms.calls_received("StopTransaction")]
        starts = [p["idTag"] for a, p in sent if a == "StartTransaction"]
        assert starts == ["TAG-C", "TAG-D"]  # the two queued offline, in order; then nothing new
        stops = {p["transactionId"]: (p["reason"], p["meterStop"]) for a, p in sent if a == "StopTransaction"}
        assert stops == {100: ("Remote", 2007), 2: ("PowerLoss", 1000), 101: ("PowerLoss", 2007)}
        meter_values = [p for p in bench.payloads("MeterValues") if "transactionId" in p]
        assert {(p["connectorId"], p["transactionId"]) for p in meter_values} == {(1, 2), (2, 100), (2, 101)}
        queued = rows(tmp_path / "evsed.db", "SELECT count(*) FROM ocpp_journal")
        assert queued == [(0,)]
        assert daemon.ledger.open_transactions() == []
        assert set(uuid_of) == {1, 2, 3, 4} and all(len(u) == 36 for u in uuid_of.values())
        await bench.wait_status(2, "Unavailable")  # ChangeAvailability kept across the upgrade
        assert not daemon.station.view(2).operative and daemon.station.view(1).operative
        cached = await daemon.ocpp.authorization.known(token("tag1"))  # the cache moved to the station's
        assert cached is not None and cached.status == "Accepted"
    finally:
        await bench.stop()
