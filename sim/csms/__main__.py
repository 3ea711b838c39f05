"""``python -m sim.csms``: the bench CSMS on its own, with its HTTP control API.

Rules kept here:
- It prints one line, ``csms listening ws://HOST:PORT http://HOST:PORT``, once both are served
  (port 0 picks free ones), and runs until killed.
- ``--tag ID`` knows an id tag / idToken of any type, ``--tag ID:TYPE`` an idToken that must
  have that 2.0.1 type. It always knows ``BENCH_TAGS``, so ``evsed sim --csms URL`` against it
  needs no ``--tag``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterable

from aiohttp import web

from sim.csms.server import Csms, CsmsConfig

# The tokens of the bench configurations (sim/configs/bench*.toml) and the tests' usual ones.
BENCH_TAGS = ["TAG1", "04A2B3C4", "DEMO-TAG-1", "DEMO-TAG-2"]


def config_from(args: argparse.Namespace) -> CsmsConfig:
    tags = [tag.partition(":") for tag in args.tag]
    return CsmsConfig(
        boot_status=args.boot_status,
        heartbeat_interval=args.interval,
        id_tags={token for token, _, _ in tags},
        token_types={token: kind for token, _, kind in tags if kind},
        log_limit=args.log_limit,
        price_per_kwh=args.price_per_kwh,
    )


async def serve(args: argparse.Namespace) -> None:
    csms = Csms(config_from(args))
    port = await csms.start(args.host, args.port)
    runner = web.AppRunner(csms.http_app())
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.http_port)
    await site.start()
    http_port = runner.addresses[0][1] if runner.addresses else args.http_port
    print(f"csms listening ws://{args.host}:{port} http://{args.host}:{http_port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await csms.stop()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.csms", description="bench OCPP 1.6J / 2.0.1 CSMS")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="websocket port (default 9000, 0 = any free port)")
    parser.add_argument("--http-port", type=int, default=9001, help="control API port (default 9001)")
    parser.add_argument("--boot-status", choices=["Accepted", "Pending", "Rejected"], default="Accepted",
                        help="the BootNotification answer")  # fmt: skip
    parser.add_argument("--interval", type=int, default=300, help="heartbeat interval it asks for, s")
    parser.add_argument("--tag", action="append", default=list(BENCH_TAGS),
                        help="a known id tag, ID or ID:TYPE (2.0.1); repeatable; the bench tags always")  # fmt: skip
    parser.add_argument("--price-per-kwh", type=float, default=None, help="2.0.1: send totalCost at this price")
    parser.add_argument("--log-level", default="WARNING", help="WARNING (default); INFO shows every frame")
    parser.add_argument("--log-limit", type=int, default=10000, help="frames kept for /csms/messages")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=args.log_level)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
