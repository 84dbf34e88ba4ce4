"""The config the chart renders is one gate itself accepts, with the files it names in place.

The pod's /etc/gate is a projected volume (config, keys, trusted root, registry credentials,
extra Rego). Each test rebuilds that directory from the rendered ConfigMaps exactly as the
Deployment's projection lays it out, then loads it with gate's own config loader: the same call
`gate serve --config /etc/gate/config.yaml` makes at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.config import Config, load
from tests.chart._helm import FULLNAME, Rendered
from tests.chart.conftest import ATTEST_KEY_PEM, ATTEST_SECRET, SCENARIOS

# The Secrets named by registries.dockerConfigSecret and attest.existingSecret are the user's; these
# stand in for their content.
DOCKER_CONFIG_JSON = json.dumps({"auths": {"registry.local:5000": {"auth": "dXNlcjpwYXNz"}}})


def project_config_volume(scenario: Rendered, root: Path) -> Path:
    """Write the pod's /etc/gate under ``root`` from the rendered objects; return the config file."""
    volume = next(v for v in scenario.pod_spec["volumes"] if v["name"] == "config")
    for source in volume["projected"]["sources"]:
        if "configMap" in source:
            data = scenario.one("ConfigMap", source["configMap"]["name"])["data"]
            items = source["configMap"]["items"]
        else:
            data = {"key.pem": ATTEST_KEY_PEM} if source["secret"]["name"] == ATTEST_SECRET else {".dockerconfigjson": DOCKER_CONFIG_JSON}
            items = source["secret"]["items"]
        for item in items:
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]], encoding="utf-8")
    mount = next(m for m in scenario.container("gate")["volumeMounts"] if m["name"] == "config")
    assert mount["mountPath"] == "/etc/gate"
    return root / "config.yaml"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_gate_loads_the_rendered_config(scenario: str, rendered: dict[str, Rendered], tmp_path: Path) -> None:
    config = load(project_config_volume(rendered[scenario], tmp_path))
    assert isinstance(config, Config)
    assert config.limits.deadline_seconds < rendered[scenario].webhook["timeoutSeconds"]


def test_full_config_reaches_gate(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    config = load(project_config_volume(rendered["full-config"], tmp_path))
    assert sorted(key.name for key in config.trust.keys) == ["cosign.pub", "release.pub"]
    assert len(config.trust.key_pems()) == 2
    assert config.trust.keyless[0].matches("https://token.actions.githubusercontent.com", "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main")
    assert config.trust.trusted_root == tmp_path / "trust" / "trusted_root.json"
    assert config.trust.require_tlog is False
    assert config.registries.insecure == frozenset({"registry.local:5000"})
    assert config.registries.allows("ghcr.acme.example") and not config.registries.allows("docker.io")
    assert json.loads(config.registries.docker_config.read_text()) == json.loads(DOCKER_CONFIG_JSON)
    assert config.rules["image.stale"].params() == {"max_age_days": 90}
    assert config.namespaces["legacy"].rules["user.root"].action == "warn"
    assert config.exemptions[0].rules == ("sbom.missing",)
    assert config.limits.cache_ttl_seconds == 600 and config.limits.timeout_seconds == 5
    assert config.policy.dirs == (tmp_path / "policies",)
    assert (tmp_path / "policies" / "team.rego").read_text().startswith("package gate.team")
    assert [(v.id, v.key, v.max_age_hours) for v in config.trust.verifiers] == [
        ("https://ci.acme.example/gate", tmp_path / "trust" / "verifiers" / "0.pub", 24),
        ("https://ci.vendor.example/gate", tmp_path / "trust" / "verifiers" / "1.pub", 168),
    ]
    assert (config.attest.key, config.attest.verifier_id) == (tmp_path / "attest" / "key.pem", "https://cluster.acme.example/gate")


def test_without_an_allow_list_every_host_may_be_contacted(rendered: dict[str, Rendered], tmp_path: Path) -> None:
    config = load(project_config_volume(rendered["defaults"], tmp_path))
    assert config.registries.allow is None and config.registries.allows("docker.io")


def test_projected_files_are_the_ones_the_config_names(rendered: dict[str, Rendered]) -> None:
    config_map = rendered["full-config"].one("ConfigMap", f"{FULLNAME}-keys")
    assert set(config_map["data"]) == {"cosign.pub", "release.pub"}
    assert rendered["full-config"].gate_config["trust"]["keys"] == ["trust/keys/cosign.pub", "trust/keys/release.pub"]
