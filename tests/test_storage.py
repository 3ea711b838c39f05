import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from controller.storage import PAGE_SIZE, Database


def test_wal_and_full_sync(tmp_path):
    db = Database(tmp_path / "s.db")
    mode = db.run_sync(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    sync = db.run_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    db.close()
    assert mode == "wal"
    assert sync == 2  # FULL


def test_small_pages_for_a_new_file_and_an_old_file_rebuilt_with_its_rows(tmp_path):
    db = Database(tmp_path / "new.db")
    assert db.run_sync(lambda c: c.execute("PRAGMA page_size").fetchone()[0]) == PAGE_SIZE
    db.close()
    old = sqlite3.connect(tmp_path / "old.db")  # as an earlier evsed left it: 4 KB pages, WAL
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE t (x TEXT)")
    old.executemany("INSERT INTO t VALUES (?)", [(f"row {i}",) for i in range(500)])
    old.commit()
    old.close()
    db = Database(tmp_path / "old.db")
    page, mode, rows = db.run_sync(
        lambda c: (
            c.execute("PRAGMA page_size").fetchone()[0],
            c.execute("PRAGMA journal_mode").fetchone()[0],
            [r[0] for r in c.execute("SELECT x FROM t ORDER BY rowid")],
        )
    )
    db.close()
    assert (page, mode) == (PAGE_SIZE, "wal")
    assert rows == [f"row {i}" for i in range(500)]


def test_migration_runs_once(tmp_path):
    db = Database(tmp_path / "s.db")
    db.migrate("0001_t", "CREATE TABLE t (x INTEGER)")
    db.run_sync(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    db.close()
    db = Database(tmp_path / "s.db")
    db.migrate("0001_t", "CREATE TABLE t (x INTEGER)")  # would fail if re-applied
    assert db.run_sync(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
    db.close()


async def test_failed_call_rolls_back_and_db_stays_usable(tmp_path):
    db = Database(tmp_path / "s.db")
    db.migrate("0001_t", "CREATE TABLE t (x INTEGER UNIQUE)")

    def insert_twice(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (1)")
        c.execute("INSERT INTO t VALUES (1)")

    with pytest.raises(sqlite3.IntegrityError):
        await db.run(insert_twice)
    assert await db.run(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 0
    await db.run(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    assert await db.run(lambda c: c.execute("SELECT x FROM t").fetchone()[0]) == 2
    db.close()


async def test_run_does_not_block_the_event_loop(tmp_path):
    db = Database(tmp_path / "s.db")
    started = asyncio.Event()
    release = __import__("threading").Event()

    def slow(c: sqlite3.Connection) -> int:
        started_loop.call_soon_threadsafe(started.set)
        release.wait(5)
        return 7

    started_loop = asyncio.get_running_loop()
    task = asyncio.create_task(db.run(slow))
    await started.wait()
    # the loop is free while the database thread is busy
    await asyncio.sleep(0)
    assert not task.done()
    release.set()
    assert await task == 7
    db.close()


def test_committed_rows_survive_kill_9(tmp_path):
    path = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {os.getcwd()!r})
        from controller.storage import PAGE_SIZE, Database
        db = Database({str(path)!r})
        db.migrate("0001_t", "CREATE TABLE t (x INTEGER)")
        for i in range(50):
            db.run_sync(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,)))
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert proc.returncode == -9
    assert "committed" in proc.stdout
    db = Database(path)
    assert db.run_sync(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 50
    db.close()


def test_a_commit_that_does_not_wait_for_the_disk_is_kept_and_the_next_one_does(tmp_path):
    """durable=False commits without an fsync (the journal's confirmations); the connection is back
    to synchronous=FULL right after, also when the transaction failed; another connection sees the
    row while this one is still open (a kill -9 leaves the WAL as it was written)."""
    db = Database(tmp_path / "s.db")
    db.run_sync(lambda c: c.execute("CREATE TABLE t (x TEXT)"))
    db.run_sync(lambda c: c.execute("INSERT INTO t VALUES ('answered')"), durable=False)
    assert db.run_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2
    with pytest.raises(sqlite3.OperationalError):
        db.run_sync(lambda c: c.execute("INSERT INTO nowhere VALUES (1)"), durable=False)
    assert db.run_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2
    other = sqlite3.connect(tmp_path / "s.db")
    assert other.execute("SELECT x FROM t").fetchall() == [("answered",)]
    other.close()
    db.close()
