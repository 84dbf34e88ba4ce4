"""Package facades import a submodule when one of its names is first used, and behave as modules otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import gate.evidence
import gate.policy
import gate.scan
import gate.verify

ROOT = Path(__file__).resolve().parents[1]
FACADES = (gate.evidence, gate.policy, gate.scan, gate.verify)


def test_a_facade_imports_the_home_of_a_name_on_first_use_only() -> None:
    probe = (
        "import sys, gate.evidence\n"
        "before = 'gate.evidence._sbom' in sys.modules\n"
        "sbom = gate.evidence.Sbom\n"
        "print(before, 'gate.evidence._sbom' in sys.modules, sbom.__module__, gate.evidence.__dict__['Sbom'] is sbom)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True", "gate.evidence._sbom", "True"]


@pytest.mark.parametrize("facade", FACADES, ids=lambda module: module.__name__)
def test_every_exported_name_is_the_object_its_home_defines(facade: ModuleType) -> None:
    assert facade.__all__
    for name in facade.__all__:
        value = getattr(facade, name)
        home = getattr(value, "__module__", None)  # classes and functions; constants have no home to compare
        if isinstance(home, str) and home.startswith(facade.__name__ + "._"):
            assert getattr(sys.modules[home], name) is value


@pytest.mark.parametrize("facade", FACADES, ids=lambda module: module.__name__)
def test_an_unknown_name_is_an_attribute_error(facade: ModuleType) -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = facade.no_such_name


def test_star_import_yields_every_exported_name() -> None:
    namespace: dict[str, object] = {}
    exec("from gate.verify import *", namespace)  # noqa: S102 - the statement under test
    assert set(gate.verify.__all__) <= set(namespace)


def test_a_server_can_import_everything_the_facades_defer() -> None:
    probe = (
        "import sys, gate.engine\n"
        "from gate._lazy import _FACADES, import_deferred\n"
        "import_deferred()\n"
        "missing = [package + home for package, homes in _FACADES.items() for home in homes if package + home not in sys.modules]\n"
        "print(sorted(_FACADES), missing, 'gate.verify._bundle' in sys.modules, 'gate.scan._tar' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "['gate.evidence', 'gate.policy', 'gate.scan', 'gate.verify'] [] True True"
