"""Security profiles as both OCPP versions use them (1.6 security whitepaper edition 3 sections
2 and A05; 2.0.1 part 2 A00 and A05, errata 2025-09 2.5): the rules for changing a profile, and
what a connection attempt with a profile needs.

Rules kept here:
- Profiles: 0 none (1.6 only); 1 Basic auth over ws; 2 Basic auth over TLS; 3 TLS with a client
  certificate. Profiles 2 and 3 use TLS (wss).
- A profile is only ever raised over OCPP, never lowered (1.6 A05.FR.01; 2.0.1 A00.FR.005,
  B09.FR.04, A05.FR.10: evsed implements no AllowSecurityProfileDowngrade).
- A higher profile needs (``missing``; 1.6 A05.FR.02-04, 2.0.1 A05.FR.02/03): a usable Basic-auth
  password for 1 and 2 (where the version asks for one), a CSMS root (installed, or ``[ocpp]
  ca_file``; none when verification is off on a bench) for 2 and 3, a valid client certificate
  for 3.
- A trial of a new profile ends at once when the CSMS refused the credentials or the attempt
  called for a security event, else after ``attempts`` failed attempts (``trial_failed``).
- ``ConnectionSecurity`` does per attempt what the profile asks of TLS: the client context
  (``ca_file`` or the system store, plus every installed CSMS root; the client certificate for
  profile 3; the certificate dates left to the NTP-corrected clock while the system clock is
  wrong; a partial chain with the AdditionalRootCertificateCheck; a replaced CSMS root kept as
  the fallback only when not migrating to another CSMS), the checks of an opened
  connection (dates against NTP time, a wildcard certificate where ``wildcards`` says no, which
  installed root validated it, a new root confirmed, M05), and the judgment of a failed one
  (controller/ocpp/tls.py ``classify``): its security event is reported once per outage
  (A00.FR.316), and a server certificate failing on its dates alone in an attempt that started
  before the first NTP sync (its TLS check used the unsynchronised clock, even when the sync
  came during the handshake) is not reported: the link connects again once the clock is
  synchronised (issue #6 "Time").
- Nothing here raises out of a link hook but the ConnectionError that refuses a connection: a
  bug is logged and the attempt counts as failed.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from controller.ocpp.certificates import (
    CENTRAL_SYSTEM_ROOT,
    CertificateError,
    CertificateStore,
    fingerprint,
    parse_pem_chain,
)
from controller.ocpp.tls import (
    Failure,
    TlsEvent,
    check_dates,
    check_no_wildcard,
    classify,
    client_context,
    verified_chain,
)
from controller.tasks import Tasks

if TYPE_CHECKING:
    from cryptography import x509

    from controller.clock import WallClock
    from controller.ocpp.frontend import TimeSource
    from controller.ocpp.websocket import WebSocket

log = logging.getLogger(__name__)

TLS_PROFILES = frozenset({2, 3})


def uses_tls(profile: int) -> bool:
    return profile in TLS_PROFILES


def may_change(current: int, new: int) -> bool:
    """Over OCPP a security profile is kept or raised, never lowered."""
    return new >= current


def missing(profile: int, *, password: str | None, roots: bool, client_certificate: bool) -> str | None:
    """What ``profile`` lacks on this station, in words (None: it can be used). ``password`` is why
    the Basic-auth password cannot be used ("" when it can; None when the version does not ask)."""
    if profile in (1, 2) and password:
        return f"profile {profile} needs a Basic-auth password: {password}"
    if uses_tls(profile) and not roots:
        return f"profile {profile} needs a CSMS root certificate (installed, or [ocpp] ca_file)"
    if profile == 3 and not client_certificate:
        return "profile 3 needs a valid client certificate (SignCertificate / CertificateSigned)"
    return None


def trial_failed(failure: Failure, failures: int, attempts: int) -> bool:
    """Whether a trial of a new profile is over after ``failures`` failed attempts, the last one ``failure``."""
    return failure.credentials_refused or failure.event is not None or failures >= attempts


@dataclass(frozen=True)
class Trust:
    """Where the CSMS's certificate is checked against (``[ocpp] ca_file`` / ``insecure``)."""

    ca_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class Judged:
    reason: str  # what ``last_error`` shows
    failure: Failure
    counts: bool  # False: a date failure before the first NTP sync (the link tries again after it)


class ConnectionSecurity:
    def __init__(
        self,
        store: CertificateStore,
        clock: WallClock,
        trust: Trust,
        *,
        report: Callable[[TlsEvent, str], Awaitable[None]],
        connect_again: Callable[[], None],
        time_source: TimeSource | None = None,
        partial_chain: Callable[[], bool] = lambda: False,
        wildcards: Callable[[], bool] = lambda: True,
    ):
        self.store, self.clock, self.trust = store, clock, trust
        self.report, self.connect_again = report, connect_again
        self.time_source, self.partial_chain, self.wildcards = time_source, partial_chain, wildcards
        self.identity: tuple[Path, Path] | None = None  # the client certificate of the last attempt
        self._reported: set[TlsEvent] = set()  # events already reported in this outage
        self._waiting_for_sync = False
        self._unsynced_attempt = False  # the last attempt started before the first NTP sync
        self._tasks = Tasks("ocpp connection security")
        if trust.insecure:
            log.error("[ocpp] insecure = true: the CSMS's TLS certificate is NOT verified (bench only)")

    def trust_anchors(self) -> list[x509.Certificate]:
        """The CSMS roots a server certificate is checked against (the system store aside)."""
        anchors = self.store.certificates(CENTRAL_SYSTEM_ROOT)
        if self.trust.ca_file is not None:
            try:
                anchors += parse_pem_chain(self.trust.ca_file.read_text())
            except (OSError, CertificateError) as exc:
                log.error("[ocpp] ca_file %s unusable: %s", self.trust.ca_file, exc)
        return anchors

    def has_roots(self) -> bool:
        return self.trust.insecure or bool(self.trust_anchors())

    def _dates_by_offset(self) -> bool:
        return self.time_source is not None and self.time_source.dates_by_offset()

    # ---- an attempt ----------------------------------------------------------------------

    def ssl_context(self, url: str, profile: int, migrating: bool = False) -> ssl.SSLContext | None:
        """The TLS context for an attempt at ``url`` with ``profile`` (None for ws://); raises
        ConnectionError when the profile cannot be used now. ``migrating`` to another CSMS, a
        replaced CSMS root kept as a fallback is not trusted (2.0.1 M05.FR.14-16)."""
        self.identity = None
        source = self.time_source
        self._unsynced_attempt = source is not None and not source.synced.is_set()
        if not url.startswith("wss://"):
            return None
        if profile == 3:
            self.identity = self.store.client_identity()
            if self.identity is None:
                raise ConnectionError("security profile 3 needs a valid client certificate; none installed")
        try:
            return client_context(
                ca_file=self.trust.ca_file,
                roots=self.store.certificates(CENTRAL_SYSTEM_ROOT, fallback=not migrating),
                identity=self.identity,
                insecure=self.trust.insecure,
                ignore_dates=self._dates_by_offset(),
                partial_chain=self.partial_chain(),
            )
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"TLS set-up failed: {exc}") from exc

    def opened(self, ws: WebSocket) -> None:
        """The websocket is open: check it. Raises ConnectionError (only) to refuse it."""
        try:
            self._check(ws)
        except ConnectionError:
            raise
        except Exception as exc:  # a bug here must not end the link's task
            log.exception("checking the new CSMS connection failed")
            raise ConnectionError(f"connection check failed: {exc}") from exc
        self._reported.clear()

    def _check(self, ws: WebSocket) -> None:
        ssl_object = ws.transport.get_extra_info("ssl_object") if ws.transport else None
        if ssl_object is None or self.trust.insecure:
            return
        chain = verified_chain(ssl_object)
        if self._dates_by_offset():
            check_dates(chain, self.clock.now())
        if chain and not self.wildcards():
            check_no_wildcard(chain[0])
        fingerprints = [fingerprint(c) for c in chain]
        installed = {fingerprint(c) for c in self.store.certificates(CENTRAL_SYSTEM_ROOT)}
        self.store.in_use = set(fingerprints) & installed
        self.store.confirm_root(*fingerprints)

    def judge(self, exc: BaseException, profile: int) -> Judged:
        """A failed attempt: why, and whether it counts. Reports its security event once per outage."""
        failure = classify(exc, presented_certificate=profile == 3)
        source = self.time_source
        if failure.dates_only and source is not None and self._unsynced_attempt:
            if not self._waiting_for_sync:
                self._waiting_for_sync = True
                self._tasks.spawn(self._connect_after_sync(source), "security-retry-after-sync")
            reason = failure.reason + "; the clock is not synchronised yet: retrying after the NTP sync"
            return Judged(reason, failure, counts=False)
        if failure.event is not None and failure.event not in self._reported:
            self._reported.add(failure.event)
            self._tasks.spawn(self.report(failure.event, failure.reason), "security-event")
        return Judged(failure.reason, failure, counts=True)

    async def _connect_after_sync(self, source: TimeSource) -> None:
        await source.synced.wait()
        self._waiting_for_sync = False
        log.info("clock synchronised: connecting to the CSMS again")
        self.connect_again()

    async def close(self) -> None:
        await self._tasks.cancel()
