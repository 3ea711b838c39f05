"""What the daemon takes from the ``ocpp`` package: its schemas (read as JSON) and its 2.0.1
enums (their file loaded on its own), never its version packages, which import its ChargePoint,
its message dataclasses and jsonschema (with referencing, rpds and attrs)."""

from __future__ import annotations

import enum
import subprocess
import sys

from ocpp.v201 import enums as library

from controller.ocpp.v201 import enums


def test_the_daemon_loads_neither_jsonschema_nor_the_ocpp_message_classes():
    code = (
        "import sys, controller.cli, controller.daemon, controller.ocpp.v16.frontend, controller.ocpp.v201.frontend\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'jsonschema', 'referencing', 'rpds', 'attrs', 'attr'} or m.startswith('ocpp.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['ocpp.v201.enums']"


def test_the_201_enums_are_the_librarys_own_classes():
    classes = [name for name, value in vars(library).items() if isinstance(value, enum.EnumMeta)]
    assert len(classes) > 100
    assert all(getattr(enums, name) is getattr(library, name) for name in classes)


def test_the_library_imports_its_package_after_the_enums_were_loaded_alone():
    code = (
        "import controller.ocpp.v201.enums as ours\n"
        "from ocpp.v201 import ChargePoint, call\n"
        "from ocpp.v201.enums import ResetEnumType\n"
        "reset = call.Reset(type=ResetEnumType.immediate)\n"
        "print(ResetEnumType is ours.ResetEnumType, reset.type is ours.ResetEnumType.immediate)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True True"
