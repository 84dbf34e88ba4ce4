"""No installed distribution's pydantic plugin runs inside gate's configuration validation.

The test installs (on a subprocess's path) a distribution whose ``pydantic`` entry point records
that it was loaded, shows pydantic loads it in a plain process, then loads a gate configuration
in a process that imported gate and finds it never loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = '''
import os
open(os.environ["PLUGIN_MARK"], "a").write("loaded\\n")

class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None

plugin = Plugin()
'''


def _site_with_plugin(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "spy_plugin.py").write_text(PLUGIN)
    dist = site / "spy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    return site


def _run(tmp_path: Path, code: str) -> str:
    mark = tmp_path / "mark"
    site = _site_with_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{site}", "PLUGIN_MARK": str(mark)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=120)
    return mark.read_text() if mark.exists() else ""


def test_pydantic_loads_an_installed_plugin_in_a_plain_process(tmp_path: Path) -> None:
    assert _run(tmp_path, "import pydantic\nclass M(pydantic.BaseModel):\n    a: int\nM(a=1)\n") == "loaded\n"


def test_gate_config_validation_runs_no_installed_plugin(tmp_path: Path) -> None:
    assert _run(tmp_path, "from gate.config import from_mapping\nfrom_mapping({'registries': {'insecure': ['r.example:5000']}})\n") == ""
