"""Errors a driver raises. The controller turns each into a fault, never a crash."""


class HardwareError(Exception):
    """A device did not answer, answered nonsense, or reported a failure."""


class MeterError(HardwareError):
    """The energy meter is unreachable or its reply is unusable."""


class CableError(HardwareError):
    """The proximity (PP) resistor is outside every valid band."""
