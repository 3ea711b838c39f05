"""The bench CSMS: one server for OCPP 1.6J and 2.0.1 stations (``python -m sim.csms``).

Rules kept here (the package's layout):
- ``server.py`` serves, authenticates, records and calls; ``session.py`` is what a station
  session does in either version; ``v16.py`` / ``v201.py`` hold only the handlers that differ;
  ``ledger.py`` is the pure 2.0.1 bookkeeping (transactions by seqNo, multi-part reports);
  ``control.py`` the HTTP control API behind ``evsed ctl csms``. A behaviour both versions
  share is written once.
- It behaves like a cooperative backend: BootNotification gets the configured status and
  interval, configured tokens are Accepted, everything else gets the minimal valid answer.
"""

from sim.csms.server import Csms, CsmsConfig, LoggedFrame, tls_context

__all__ = ["Csms", "CsmsConfig", "LoggedFrame", "tls_context"]
