"""The OCPP 2.0.1 transaction block's storage: what earlier versions left in SQLite is taken over."""

from controller.ocpp.journal import STATION_IDS, Journal, Stamp
from controller.ocpp.v201.transactions import SEQUENCES_TO_JOURNAL
from controller.storage import Database


def event(n: int) -> dict:
    return {"eventType": "Updated", "n": n}


async def test_the_2_0_1_sequence_table_of_earlier_versions_moves_into_the_journal(tmp_path):
    db = Database(tmp_path / "evsed.db")
    db.migrate(
        "ocpp201_tx_seq_0001",
        "CREATE TABLE ocpp201_tx_seq (transaction_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)",
    )
    db.run_sync(lambda c: c.execute("INSERT INTO ocpp201_tx_seq VALUES ('tx-old', 7)"))
    journal = Journal(db, ids=STATION_IDS)
    db.migrate("ocpp201_tx_seq_0002_to_journal", SEQUENCES_TO_JOURNAL)
    await journal.enqueue("TransactionEvent", event(1), "tx-old", stamp=Stamp(sequence="seqNo"))
    assert (await journal.pending())[0].payload["seqNo"] == 7
    tables = db.run_sync(lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")])
    assert "ocpp201_tx_seq" not in tables
    db.close()
