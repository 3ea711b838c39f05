"""OCPP 2.0.1: the charging station's front end (frontend.py wires it: one module per functional
block: registration, configuration, availability, reset, trigger, security events, transactions,
remote control, authorization) and the device model it serves (part 2 appendices, "Referenced
Components and Variables"), sans-I/O: the table (variables, controllers, physical, inventory),
typed values (values), the state and its effects (device_model), GetVariables / SetVariables
(variable_requests), GetBaseReport / GetReport / NotifyReport (reports, notify_report), SQLite
persistence (store) and the ``[ocpp.variables]`` presets (presets)."""
