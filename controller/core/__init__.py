"""The charging core: sessions, transactions, authorization decisions, availability and
reservations per EVSE, in words no OCPP version owns (controller/ocpp/ front ends translate)."""
