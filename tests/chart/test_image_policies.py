"""The chart carries image policies: a three-publisher policy in values renders into the ConfigMap's
``images:``, with its keys projected where the entries name them, and gate's own loader accepts it."""

from __future__ import annotations

from pathlib import Path

import yaml

from gate.config import load
from gate.policy import PolicyEvaluator
from gate.verify import TrustPolicy, image_scope
from tests.chart._helm import FULLNAME, render
from tests.chart.conftest import public_key_pem
from tests.chart.test_config import project_config_volume

GITHUB = "https://token.actions.githubusercontent.com"
THREE_PUBLISHERS = {
    "trust": {"imageKeys": {"vendor.pub": public_key_pem()}, "publicKeys": {"legacy.pub": public_key_pem()}},
    "images": [
        {
            "name": "acme",
            "match": ["ghcr.io/acme/**"],
            "authorities": [
                {"name": "acme-ci", "keyless": {"issuer": GITHUB, "subject_regex": r"^https://github\.com/acme/.+$", "extensions": {"github_workflow_trigger": "push"}}}
            ],
            "attestations": [{"type": "https://slsa.dev/provenance/v1"}],
            "rules": {"builder.unpinned": {"action": "warn"}},
        },
        {"name": "vendor", "match": ["registry.vendor.example/**"], "authorities": [{"name": "vendor-key", "key": "trust/image-keys/vendor.pub"}]},
        {"name": "public-bases", "match": ["docker.io/library/*"], "authorities": [], "rules": {"provenance.missing": {"action": "off"}}},
    ],
}


def test_a_three_publisher_policy_renders_and_loads(tmp_path: Path) -> None:
    (tmp_path / "render").mkdir()
    rendered = render(THREE_PUBLISHERS, tmp_path / "render")
    config_map = yaml.safe_load(rendered.one("ConfigMap", f"{FULLNAME}-config")["data"]["config.yaml"])
    assert [entry["name"] for entry in config_map["images"]] == ["acme", "vendor", "public-bases"]
    assert rendered.one("ConfigMap", f"{FULLNAME}-image-keys")["data"]["vendor.pub"].startswith("-----BEGIN PUBLIC KEY-----")

    config = load(project_config_volume(rendered, tmp_path / "etc-gate"))
    acme, vendor, bases = config.images
    assert acme.authorities[0].keyless.extensions == {"github_workflow_trigger": "push"} and acme.required == 1
    assert vendor.authorities[0].key == tmp_path / "etc-gate" / "trust" / "image-keys" / "vendor.pub"
    assert bases.required == 0 and bases.rules["provenance.missing"].action == "off"
    assert [key.name for key in config.trust.keys] == ["legacy.pub"]  # the vendor's key is not trusted for every image

    trust = TrustPolicy.from_config(config.trust, config.images)
    assert image_scope(config.images, trust, ("docker.io", "library/nginx", "1.25", None), None).key == ("public-bases",)
    assert image_scope(config.images, trust, ("docker.io", "other/nginx", "1.25", None), None).key == ()
    assert image_scope(config.images, trust, ("ghcr.io", "acme/payments/api", "1", None), "shop").key == ("acme",)
    PolicyEvaluator.from_config(config).close()  # the policies load with it, as `gate serve` would
