"""secret.env and secret.build-arg from the image config, history lines and provenance build args."""

from __future__ import annotations

import json

import pytest

from gate.errors import EvidenceError
from gate.scan import scan_build_args, scan_config
from tests.scan._tokens import AWS, GITHUB, NPM
from tests.support.vectors import VECTORS

GOLDEN = VECTORS / "formats" / "image-config-history-buildkit-golden.json"


def _config(env: list[str] | None = None, labels: dict[str, str] | None = None, history: list[str] | None = None) -> dict:
    return {"config": {"Env": env or [], "Labels": labels},
            "history": [{"created_by": line} for line in history or []]}


@pytest.mark.parametrize(
    "line",
    [
        f"RUN |2 GITHUB_TOKEN={GITHUB} VERSION=1.2 /bin/sh -c make",   # BuildKit RUN with args
        f"|1 GITHUB_TOKEN={GITHUB} /bin/sh -c make",                   # legacy builder
        f"ARG GITHUB_TOKEN={GITHUB}",                                  # BuildKit ARG default
        f"/bin/sh -c #(nop)  ARG GITHUB_TOKEN={GITHUB}",               # legacy ARG
    ],
)
def test_build_arg_secret_in_history_is_found_and_redacted(line: str) -> None:
    findings = scan_config(_config(history=[line]))
    assert [(f.rule, f.detector, f.name) for f in findings] == [("secret.build-arg", "github-pat", "GITHUB_TOKEN")]
    assert GITHUB not in json.dumps([f.to_json() for f in findings])
    assert findings[0].history is not None and "ghp_…" in findings[0].history


@pytest.mark.parametrize(
    "line",
    [
        "RUN |1 TOKEN_FILE=/run/secrets/token /bin/sh -c make",         # a reference to a secret
        "RUN |2 VERSION=1.2.3 TARGETARCH=amd64 /bin/sh -c make",
        "ARG NPM_TOKEN",                                               # declared, no value
        "ARG PASSWORD=changeme",                                       # documented placeholder
        "ARG API_KEY=${API_KEY}",
        "RUN /bin/sh -c --mount=type=secret,id=npm npm ci",
        "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",        # public key fingerprint (python images)
        "ENV AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",                  # AWS's documented example key
        "RUN |1 AUTH_SERVER=https://auth.example.com/login /bin/sh -c ./configure",
    ],
)
def test_history_traps_stay_quiet(line: str) -> None:
    assert scan_config(_config(history=[line])) == []


def test_value_decides_not_the_name() -> None:
    findings = scan_config(_config(history=[f"RUN |2 HARMLESS={NPM} TOKEN_FILE=/run/secrets/x /bin/sh -c true"]))
    assert [(f.detector, f.name) for f in findings] == [("npm-access-token", "HARMLESS")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"RUN |2 A=1 /bin/sh -c echo {GITHUB}", [("github-pat", None)]),       # fewer args than announced
        (f"RUN |3 T={GITHUB} /bin/sh -c make", [("github-pat", "T")]),
        ("RUN |2 GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", []),       # no command at all
        (f"RUN |1 {GITHUB}", [("github-pat", None)]),                          # no NAME= at all
    ],
)
def test_malformed_run_arg_counts(line: str, expected: list) -> None:
    assert [(f.detector, f.name) for f in scan_config(_config(history=[line]))] == expected


def test_inline_token_in_run_command_is_a_build_arg_leak() -> None:
    findings = scan_config(_config(history=[f"RUN /bin/sh -c echo //registry.npmjs.org/:_authToken={NPM} > ~/.npmrc"]))
    assert {(f.rule, f.detector) for f in findings} == {("secret.build-arg", "npm-access-token")}
    assert NPM not in findings[0].history


def test_env_and_label_secrets() -> None:
    findings = scan_config(_config(env=["PATH=/usr/bin", f"AWS_ACCESS_KEY_ID={AWS}", "DB_PASSWORD=Tr0ub4dor&3x"],
                                   labels={"ci.token": GITHUB, "org.opencontainers.image.source": "https://x/y"}))
    assert {(f.rule, f.detector, f.name) for f in findings} == {
        ("secret.env", "aws-access-token", "AWS_ACCESS_KEY_ID"),
        ("secret.env", "secret-assignment", "DB_PASSWORD"),
        ("secret.env", "github-pat", "ci.token"),
    }
    assert all(f.preview and AWS not in f.preview for f in findings)


def test_env_overridden_later_is_still_found_in_history_once() -> None:
    config = _config(env=[f"GITHUB_TOKEN={GITHUB}"], history=[f"ENV GITHUB_TOKEN={GITHUB}", "ENV OTHER_TOKEN=" + NPM])
    findings = scan_config(config)
    assert sorted((f.rule, f.name) for f in findings) == [("secret.env", "GITHUB_TOKEN"), ("secret.env", "OTHER_TOKEN")]


def _history(*entries: tuple[str, bool], layers: int | None = None) -> dict:
    config: dict = {"history": [{"created_by": line, **({"empty_layer": True} if empty else {})} for line, empty in entries]}
    if layers is not None:
        config["rootfs"] = {"type": "layers", "diff_ids": [f"sha256:{i:064x}" for i in range(layers)]}
    return config


def test_history_findings_name_the_layer_their_entry_produced() -> None:
    config = _history(("ADD rootfs.tar /", False), (f"ARG GITHUB_TOKEN={GITHUB}", True),
                      (f"ENV NPM_TOKEN={NPM}", True), (f"RUN |1 GITHUB_TOKEN={GITHUB} /bin/sh -c make", False),
                      (f"RUN /bin/sh -c echo {AWS} > /etc/key", False), layers=3)
    assert [(f.rule, f.name, f.layer) for f in scan_config(config)] == [
        ("secret.build-arg", "GITHUB_TOKEN", 1),     # ARG (no layer) then the RUN |1 that made layer 1
        ("secret.env", "NPM_TOKEN", None),           # ENV produces no layer
        ("secret.build-arg", None, 2),               # inline in the RUN that made layer 2
    ]


def test_history_layers_are_not_guessed_when_the_counts_disagree() -> None:
    config = _history(("ADD rootfs.tar /", False), (f"RUN |1 GITHUB_TOKEN={GITHUB} /bin/sh -c make", False), layers=3)
    assert [f.layer for f in scan_config(config)] == [None]


def test_provenance_build_args() -> None:
    findings = scan_build_args({"NPM_TOKEN": NPM, "VERSION": "1.0", "SECRET_FILE": "/run/secrets/s"}, source="provenance")
    assert [(f.rule, f.name, f.history, f.layer) for f in findings] == [("secret.build-arg", "NPM_TOKEN", "provenance", None)]


def test_fact_shape_is_the_contract() -> None:
    finding = scan_config(_config(env=[f"T={GITHUB}"]))[0]
    assert set(finding.to_fact()) == {"rule", "detector", "path", "layer", "layer_digest", "deleted_in_layer",
                                      "history", "name"}


def test_real_buildkit_history_has_no_findings() -> None:
    """moby/buildkit golden config (legacy #(nop) lines + BuildKit exporter lines): nothing secret in it."""
    assert scan_config(json.loads(GOLDEN.read_text())) == []


@pytest.mark.parametrize("config", [{"config": []}, {"config": {"Env": "A=1"}}, {"history": [1]},
                                    {"config": {"Labels": ["x"]}}, {"config": {"Env": [3]}}])
def test_malformed_config_is_an_evidence_error(config: dict) -> None:
    with pytest.raises(EvidenceError):
        scan_config(config)
