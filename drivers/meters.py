"""Building a meter from its ``[connector.meter]`` table: the entry board builders call.

Rules kept here:
- ``model`` picks a register map from ``drivers.meter_maps.MAPS``; the transport keys
  (``serial``, ``baudrate``, ``parity``, ``stopbits`` or ``host``, ``port``) and the
  device keys (``unit``, ``timeout_s``, ``retries``) are read by the bus pool, with bounds.
- Meters on the same RS-485 line or TCP gateway share one bus from the pool.
- Unknown keys are left for ``ConfigSection.check_unused()`` to reject.
"""

from __future__ import annotations

from drivers.meter_maps import MAPS
from drivers.modbus_bus import BusPool
from drivers.modbus_meter import ModbusMeter
from hal.config import ConfigSection
from hal.interfaces import Meter


def build_meter(section: ConfigSection, pool: BusPool, *, phase_power: bool = False) -> Meter:
    """``phase_power``: also read the signed power per phase (a meter at the house connection)."""
    model = section.get_str("model", choices=sorted(MAPS))
    return ModbusMeter(pool.device(section), MAPS[model], phase_power=phase_power)
