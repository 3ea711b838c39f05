"""The ``ocpp`` package's OCPP 2.0.1 enums, without the package around them.

Rules kept here:
- Importing ``ocpp.v201.enums`` the usual way runs ``ocpp/v201/__init__.py`` first, which
  imports the library's ChargePoint, its message dataclasses and jsonschema (with referencing,
  rpds and attrs): memory the daemon does not need. So the file ``ocpp/v201/enums.py`` (it
  imports only the standard library's ``enum``) is loaded on its own as the module
  ``ocpp.v201.enums``, the name the import system looks up first: there is one set of these
  classes in a process, whichever comes first, this module or the library's own import (the
  bench CSMS and the tests compare members by identity).
- The names are the library's classes, unchanged (``from controller.ocpp.v201.enums import
  ResetEnumType``): no value is copied here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import ocpp

NAME = "ocpp.v201.enums"


def _load() -> ModuleType:
    loaded = sys.modules.get(NAME)
    if loaded is not None:
        return loaded
    path = Path(ocpp.__file__).parent / "v201" / "enums.py"
    spec = importlib.util.spec_from_file_location(NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


_ENUMS = _load()


def __getattr__(name: str) -> Any:
    return getattr(_ENUMS, name)
