"""TLS fixtures for the security tests: a CPO PKI written to files, a CSMS serving wss with it,
and a daemon configured for a security profile (tests/ocpp_bench.py underneath).

One CPO root signs the CSMS's server certificate and the stations' client certificates (the
whitepaper's Charge Point Operator hierarchy); a stranger root signs certificates nobody trusts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocpp_bench import CONFIG, Bench

from controller.config import parse
from controller.daemon import Daemon
from controller.safety.process import open_board
from sim import pki
from sim.csms import Csms, CsmsConfig, tls_context

KEY = "0123456789abcdef0123456789abcdef"  # a 16-byte AuthorizationKey, hex
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Pki:
    directory: Path
    root: pki.Issued
    stranger: pki.Issued

    @property
    def root_file(self) -> Path:
        return self.directory / "root.pem"

    def server_files(self, name: str = "server", **kwargs: object) -> tuple[str, str]:
        cert, key = pki.server(self.root, **kwargs).write(self.directory, name)  # type: ignore[arg-type]
        return str(cert), str(key)


def make_pki(directory: Path) -> Pki:
    bench = Pki(directory, pki.authority("CPO root", "CPO"), pki.authority("stranger root", "Stranger"))
    directory.mkdir(parents=True, exist_ok=True)
    bench.root_file.write_text(bench.root.cert_pem)
    return bench


async def tls_csms(
    bench_pki: Pki, config: CsmsConfig | None = None, *, client_ca: bool = True, **server: object
) -> Csms:
    csms = Csms(config or CsmsConfig(passwords={"CP-TEST": KEY}))
    cert, key = bench_pki.server_files(**server)
    await csms.start(ssl=tls_context(cert, key, str(bench_pki.root_file) if client_ca else None))
    csms.signer = bench_pki.root
    return csms


class SecureBench(Bench):
    """A Bench whose [ocpp] section is ``ocpp`` (lines after url) and whose URL is ``url``."""

    def __init__(self, csms: Csms, tmp_path: Path, url: str, ocpp: str = "", keys: str = ""):
        super().__init__(csms, tmp_path, keys=keys)
        self.url, self.ocpp = url, ocpp

    async def start(self) -> Daemon:
        text = CONFIG.replace('url = "ws://127.0.0.1:{port}"', f'url = "{self.url}"\n{self.ocpp}')
        text = text.format(state_dir=self.tmp_path, port=self.csms.port, measurands="Energy.Active.Import.Register",
                           connectors="[[connector]]\nid = 1\n") + self.keys  # fmt: skip
        config = parse(text, "test")
        self.daemon = Daemon(config, open_board(config))
        await self.daemon.start()
        return self.daemon


def provision_key(state_dir: Path, key: str = KEY) -> None:
    """What an installer does before the first start: the AuthorizationKey in its secret file."""
    from controller.ocpp.config import AUTHORIZATION_KEY_FILE
    from controller.secret_files import write_secret

    write_secret(state_dir / AUTHORIZATION_KEY_FILE, key)


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)
