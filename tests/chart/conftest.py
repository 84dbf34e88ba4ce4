"""Scenarios the chart must render: the defaults and each option set (issue 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.chart._helm import Rendered, render

OPA_DIGEST = "sha256:4675ab04ad1627f74741d2d9c5142698c79e18b7b09f192587d31d6dba20838e"
IMAGE_DIGEST = "sha256:" + "ab" * 32


def public_key_pem() -> str:
    """A fresh ECDSA P-256 public key, as a cosign.pub would hold."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


FULL_CONFIG: dict[str, Any] = {
    "trust": {
        "publicKeys": {"cosign.pub": public_key_pem(), "release.pub": public_key_pem()},
        "keyless": [
            {"issuer": "https://token.actions.githubusercontent.com", "subject_regex": r"^https://github\.com/acme/.+$"},
            {"issuer": "https://accounts.google.com", "subject": "release@acme.example"},
        ],
        "trustedRoot": '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}',
        "requireTlog": False,
    },
    "registries": {"insecure": ["registry.local:5000"], "dockerConfigSecret": "registry-creds"},
    "rules": {"image.stale": {"action": "warn", "max_age_days": 90}, "builder.untrusted": {"action": "deny", "allow": ["sha256:" + "cd" * 32]}},
    "namespaces": {"legacy": {"rules": {"user.root": {"action": "warn"}}}},
    "exemptions": [{"reason": "vendor image, ticket SEC-12", "rules": ["sbom.missing"], "images": ["vendor.example/agent:*"], "expires": "2027-06-30"}],
    "limits": {"cache_ttl_seconds": 600, "timeout_seconds": 5},
    "policies": {"extraRego": {"team.rego": "package gate.team\n\nimport rego.v1\n\nviolations := set()\n"}},
    "env": [{"name": "GATE_LOG_LEVEL", "value": "debug"}],
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "security", "effect": "NoSchedule"}],
    "nodeSelector": {"disktype": "ssd"},
    "podAnnotations": {"example.com/team": "security"},
    "priorityClassName": "system-cluster-critical",
}

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "cert-manager": {"tls": {"certManager": {"enabled": True}}},
    "cert-manager-own-issuer": {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}}},
    "opa-sidecar": {"opa": {"sidecar": {"enabled": True}}},
    "digest-image": {"image": {"digest": IMAGE_DIGEST}},
    "warn": {"mode": "warn"},
    "audit": {"mode": "audit"},
    "fail-open": {"failOpen": True},
    "network-policy": {"networkPolicy": {"enabled": True, "ingressFrom": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}},
    "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}},
    "object-selector": {"webhook": {"objectSelector": {"matchLabels": {"gate.dev/enforce": "true"}}}},
    "events": {"events": {"enabled": True, "service": {"type": "LoadBalancer"}}, "tls": {"extraDnsNames": ["gate-events.example.com"]}},
    "scoped-rbac": {"rbac": {"pullSecrets": {"namespaces": ["shop", "payments"]}}},
    "no-api-access": {"rbac": {"pullSecrets": {"enabled": False}}, "audit": {"enabled": False}},
    "audit-only": {"rbac": {"pullSecrets": {"enabled": False}}, "audit": {"interval": "30m", "imagesPerSecond": 0.5}},
    "audit-crd-owned-elsewhere": {"audit": {"installCRD": False}},
    "full-config": FULL_CONFIG,
    "everything": {
        **FULL_CONFIG,
        "mode": "warn",
        "failOpen": True,
        "image": {"digest": IMAGE_DIGEST},
        "tls": {"certManager": {"enabled": True}},
        "opa": {"sidecar": {"enabled": True}},
        "networkPolicy": {"enabled": True},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "events": {"enabled": True, "existingSecret": "registry-events"},
        "webhook": {"objectSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["shop"]}]}, "timeoutSeconds": 30},
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Every scenario rendered once per module (helm template is the slow part)."""
    out = {}
    for name, values in SCENARIOS.items():
        out[name] = render(values, Path(tmp_path_factory.mktemp(name)))
    return out
