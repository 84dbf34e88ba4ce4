"""Run the real helm binary over charts/gate and hand back the rendered manifests.

helm comes from `make k8s-tools` (.tools/bin, put on PATH by `make test`). There is no API
server here, so ``lookup`` returns nothing and every render is a first install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "gate"
RELEASE = "rel"
NAMESPACE = "gate-system"
FULLNAME = "rel-gate"


def helm_binary() -> str:
    """The helm on PATH; a clear failure (not a skip) when it is missing."""
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError("helm is not on PATH: run `make k8s-tools` and add .tools/bin to PATH (`make test` does)")
    return found


@dataclass(frozen=True)
class Rendered:
    """The documents of one `helm template` run, with lookups by kind and name."""

    docs: tuple[dict[str, Any], ...]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        matches = [doc for doc in self.all(kind) if name is None or doc["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
        return matches[0]

    def kinds(self) -> set[str]:
        return {doc["kind"] for doc in self.docs}

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment", FULLNAME)

    @property
    def pod_spec(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    def container(self, name: str) -> dict[str, Any]:
        """A container or (native sidecar) init container of gate's pod, by name."""
        everything = self.pod_spec["containers"] + self.pod_spec.get("initContainers", [])
        return next(c for c in everything if c["name"] == name)

    @property
    def webhook(self) -> dict[str, Any]:
        (hook,) = self.one("ValidatingWebhookConfiguration", FULLNAME)["webhooks"]
        return hook

    @property
    def mutating_webhook(self) -> dict[str, Any]:
        (hook,) = self.one("MutatingWebhookConfiguration", FULLNAME)["webhooks"]
        return hook

    @property
    def gate_config(self) -> dict[str, Any]:
        """gate's config file as the ConfigMap carries it."""
        return yaml.safe_load(self.one("ConfigMap", f"{FULLNAME}-config")["data"]["config.yaml"])


# Where an operator pushed gate's image: the chart refuses its unpublished default, so every
# render names one unless a test is about that refusal (``published=False``).
PUBLISHED_IMAGE = {"image": {"repository": "registry.example/platform/gate"}}


def run_helm(
    *args: str, values: dict[str, Any] | None = None, tmp_dir: Path, published: bool = True
) -> subprocess.CompletedProcess[str]:
    """helm with ``values`` written to a file in ``tmp_dir`` (so types survive, unlike --set),
    on top of :data:`PUBLISHED_IMAGE` when ``published``.

    HOME is ``tmp_dir``: helm's and client-go's caches stay out of the user's home.
    """
    command = [helm_binary(), *args]
    layers = [("published.yaml", PUBLISHED_IMAGE)] if published else []
    if values is not None:
        layers.append(("values.yaml", values))
    for name, layer in layers:
        values_file = tmp_dir / name
        values_file.write_text(yaml.safe_dump(layer), encoding="utf-8")
        command += ["-f", str(values_file)]
    env = {**os.environ, "HOME": str(tmp_dir)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env)


def template(values: dict[str, Any], tmp_dir: Path, *extra: str, published: bool = True) -> subprocess.CompletedProcess[str]:
    return run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *extra, values=values, tmp_dir=tmp_dir, published=published)


def render(values: dict[str, Any], tmp_dir: Path, *extra: str) -> Rendered:
    """Render the chart with ``values`` (and extra helm flags such as ``--kube-version``).

    Fails the test with helm's message if rendering fails.
    """
    result = template(values, tmp_dir, *extra)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return Rendered(tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc))


def notes(values: dict[str, Any], tmp_dir: Path) -> str:
    """NOTES.txt as a user sees it after install (client-side dry run: no cluster needed)."""
    result = run_helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", values=values, tmp_dir=tmp_dir)
    assert result.returncode == 0, f"helm install --dry-run failed:\n{result.stderr}"
    return result.stdout.partition("NOTES:")[2]


def render_error(values: dict[str, Any], tmp_dir: Path, *, published: bool = True) -> str:
    """helm's error message for values that must not render."""
    result = template(values, tmp_dir, published=published)
    assert result.returncode != 0, "helm rendered values it should have refused"
    return result.stderr
