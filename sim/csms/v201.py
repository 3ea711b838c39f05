"""The bench CSMS's OCPP 2.0.1 handlers: what differs from 1.6 (the rest is ``session.py``).

Rules kept here (a cooperative CSMS):
- An idToken is Accepted when its id is in ``CsmsConfig.id_tags`` and its type is the one
  ``token_types`` names for it (any type when none is named); a known id with another type is
  Invalid, an unknown id Unknown; type NoAuthorization is always Accepted. ``parents`` gives the
  groupIdToken (type Central). ``token_infos`` overrides all that per idToken: the idTokenInfo
  it names is the answer (a test CSMS answering Blocked, Expired, a cacheExpiryDateTime...).
- TransactionEvent goes into the ledger (``ledger.py``: by the station's transactionId, per
  seqNo, resends and gaps flagged). The answer carries idTokenInfo when the request has an
  idToken (E01.FR.12), totalCost for Updated / Ended when ``price_per_kwh`` is set (the running
  and then the final cost of the energy held so far), chargingPriority and
  updatedPersonalMessage when configured.
- Multi-part reports (NotifyReport, NotifyMonitoringReport, NotifyCustomerInformation,
  NotifyDisplayMessages, ReportChargingProfiles) are collected per requestId in the ledger.
- After every accepted BootNotification, ``CsmsConfig.variables`` go out in one SetVariables
  (the 2.0.1 form of 1.6's ``configure``); the results are logged.
- Every other notification gets its empty confirmation; the ISO 15118 certificate requests
  (Get15118EVCertificate, GetCertificateStatus) are answered Failed: the bench runs no V2G PKI
  and no OCSP responder.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result

from sim.csms.session import Session

log = logging.getLogger(__name__)

NO_PKI = {"reason_code": "NotSupported", "additional_info": "the bench CSMS runs no V2G PKI / OCSP responder"}


def token_status(token: str, kind: str, known: set[str], types: dict[str, str]) -> str:
    """AuthorizationStatusEnumType for an idToken (id, type) at a CSMS knowing ``known``."""
    if kind == "NoAuthorization":
        return "Accepted"
    if token not in known:
        return "Unknown"
    return "Accepted" if types.get(token, kind) == kind else "Invalid"


class V201Session(Session, ChargePoint):
    def _token_info(self, id_token: dict[str, Any]) -> dict[str, Any]:
        cfg = self.csms.config
        if id_token["id_token"] in cfg.token_infos:
            return cfg.token_infos[id_token["id_token"]]
        info: dict[str, Any] = {"status": token_status(id_token["id_token"], id_token["type"], cfg.id_tags,
                                                       cfg.token_types)}  # fmt: skip
        group = cfg.parents.get(id_token["id_token"])
        return {**info, "group_id_token": {"id_token": group, "type": "Central"}} if group else info

    @after("BootNotification")
    def configure(self, **_: Any) -> None:
        if self.csms.config.variables and self.csms.config.boot_status == "Accepted":
            self.csms.spawn(self._set_variables(dict(self.csms.config.variables)))

    async def _set_variables(self, values: dict[str, str]) -> None:
        data = []
        for address, value in values.items():
            component, variable = address.split(".", 1)
            data.append({"component": {"name": component}, "variable": {"name": variable}, "attribute_value": value})
        answer = await self.call(call.SetVariables(set_variable_data=data), suppress=False)
        for result in answer.set_variable_result:
            log.info("SetVariables %s.%s at %s: %s", result["component"]["name"], result["variable"]["name"],
                     self.id, result["attribute_status"])  # fmt: skip

    def _report(self, action: str, request: dict[str, Any]) -> None:
        self.csms.ledger.record_part(self.id, action, request)
        self.csms.changed()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> call_result.Authorize:
        return call_result.Authorize(id_token_info=self._token_info(id_token))

    @on("TransactionEvent")
    def on_transaction_event(self, **request: Any) -> call_result.TransactionEvent:
        transaction = self.csms.ledger.record_event(self.id, request)
        self.csms.changed()
        cfg = self.csms.config
        answer: dict[str, Any] = {}
        if request.get("id_token"):
            answer["id_token_info"] = self._token_info(request["id_token"])
        if cfg.price_per_kwh is not None and request["event_type"] != "Started":
            answer["total_cost"] = transaction.cost(cfg.price_per_kwh)
        if cfg.charging_priority is not None:
            answer["charging_priority"] = cfg.charging_priority
        if cfg.personal_message is not None:
            answer["updated_personal_message"] = {"format": "UTF8", "content": cfg.personal_message}
        return call_result.TransactionEvent(**answer)

    @on("NotifyReport")
    def on_notify_report(self, **request: Any) -> call_result.NotifyReport:
        self._report("NotifyReport", request)
        return call_result.NotifyReport()

    @on("NotifyMonitoringReport")
    def on_notify_monitoring_report(self, **request: Any) -> call_result.NotifyMonitoringReport:
        self._report("NotifyMonitoringReport", request)
        return call_result.NotifyMonitoringReport()

    @on("NotifyCustomerInformation")
    def on_notify_customer_information(self, **request: Any) -> call_result.NotifyCustomerInformation:
        self._report("NotifyCustomerInformation", request)
        return call_result.NotifyCustomerInformation()

    @on("NotifyDisplayMessages")
    def on_notify_display_messages(self, **request: Any) -> call_result.NotifyDisplayMessages:
        self._report("NotifyDisplayMessages", request)
        return call_result.NotifyDisplayMessages()

    @on("ReportChargingProfiles")
    def on_report_charging_profiles(self, **request: Any) -> call_result.ReportChargingProfiles:
        self._report("ReportChargingProfiles", request)
        return call_result.ReportChargingProfiles()

    @on("NotifyEvent")
    def on_notify_event(self, **_: Any) -> call_result.NotifyEvent:
        return call_result.NotifyEvent()

    @on("NotifyChargingLimit")
    def on_notify_charging_limit(self, **_: Any) -> call_result.NotifyChargingLimit:
        return call_result.NotifyChargingLimit()

    @on("ClearedChargingLimit")
    def on_cleared_charging_limit(self, **_: Any) -> call_result.ClearedChargingLimit:
        return call_result.ClearedChargingLimit()

    @on("ReservationStatusUpdate")
    def on_reservation_status_update(self, **_: Any) -> call_result.ReservationStatusUpdate:
        return call_result.ReservationStatusUpdate()

    @on("Get15118EVCertificate")
    def on_get_15118_ev_certificate(self, **_: Any) -> call_result.Get15118EVCertificate:
        return call_result.Get15118EVCertificate(status="Failed", exi_response="", status_info=NO_PKI)

    @on("GetCertificateStatus")
    def on_get_certificate_status(self, **_: Any) -> call_result.GetCertificateStatus:
        return call_result.GetCertificateStatus(status="Failed", status_info=NO_PKI)
