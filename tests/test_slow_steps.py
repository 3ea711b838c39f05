"""The asyncio slow-step watchdog on a real event loop: steps that hold the loop are logged
with what they were doing, whether they keep the GIL (Python code) or release it (sleeps)."""

import asyncio
import logging
import time

from conftest import eventually

from controller.slow_steps import SlowStepWatch


def spin(seconds: float) -> None:
    """Hold the loop (and the GIL, between bytecodes) for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def hog() -> None:
    spin(0.3)


def blocking_callback() -> None:
    time.sleep(0.3)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "controller.slow_steps"]


async def test_a_step_that_holds_the_loop_is_logged_with_what_it_was_doing(caplog):
    caplog.set_level(logging.WARNING, "controller.slow_steps")
    watch = SlowStepWatch(asyncio.get_running_loop(), threshold_s=0.1)
    watch.start()
    try:
        await asyncio.create_task(hog(), name="meter-hog")
        await eventually(lambda: len(warnings(caplog)) == 1, what="the report of the task's step")
        asyncio.get_running_loop().call_soon(blocking_callback)
        await eventually(lambda: len(warnings(caplog)) == 2, what="the report of the callback")
    finally:
        watch.stop()
    task_report, callback_report = warnings(caplog)
    assert "task 'meter-hog' hog at tests/test_slow_steps.py" in task_report and "in spin" in task_report
    assert "blocking_callback at tests/test_slow_steps.py" in callback_report
    for report in (task_report, callback_report):
        held_ms = float(report.split("at least ")[1].split(" ms")[0])
        assert held_ms >= 200, report  # 300 ms held, less up to one period of uncertainty


async def test_a_step_that_never_ends_is_reported_while_it_runs(caplog):
    caplog.set_level(logging.WARNING, "controller.slow_steps")
    watch = SlowStepWatch(asyncio.get_running_loop(), threshold_s=0.1)
    watch.start()
    try:
        deadline = time.monotonic() + 10
        while not warnings(caplog) and time.monotonic() < deadline:  # the loop is held throughout
            spin(0.01)
    finally:
        watch.stop()
    assert "has held the event loop for over" in warnings(caplog)[0]
    assert "test_a_step_that_never_ends_is_reported_while_it_runs" in warnings(caplog)[0]


async def test_the_daemon_watches_its_loop_from_start_to_stop(start_daemon, caplog):
    from conftest import FREE_VEND

    caplog.set_level(logging.WARNING, "controller.slow_steps")
    run = await start_daemon(FREE_VEND)
    await asyncio.create_task(hog(), name="daemon-hog")
    await eventually(lambda: any("'daemon-hog'" in w for w in warnings(caplog)), what="the daemon's report")
    await run.stop()
    assert run.daemon.slow_steps is None
