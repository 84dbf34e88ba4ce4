"""What `gate check image` prints, on real images: the table, the JSON report and SARIF.

The JSON report is validated against docs/report.schema.json for single- and multi-platform
images; SARIF against the OASIS SARIF 2.1.0 schema (tests/vectors/sarif, see PROVENANCE.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli import main
from tests.support.artifacts import PushedIndex, push_index
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_double import Keyed, SigstoreInstanceDouble, pem_public
from tests.support.signing import sign_with_tag
from tests.support.vectors import VECTORS

ROOT = Path(__file__).resolve().parents[1]
REPORT_SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
SARIF_SCHEMA = json.loads((VECTORS / "sarif" / "sarif-schema-2.1.0.json").read_text())
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")
OLD = "2020-01-01T00:00:00Z"
RECENT = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
# One credential file per platform (four each: 12 findings that differ by platform) and the same
# root user, age and missing evidence on all three (merged into one row each in the table).
SECRETS = {
    "linux/amd64": ("root/.npmrc", "root/.netrc", "root/.git-credentials", "home/app/.ssh/id_ed25519"),
    "linux/arm64": ("root/.ssh/id_rsa", "root/.aws/credentials", "root/.docker/config.json", "srv/.npmrc"),
    "linux/arm/v7": ("etc/app/.netrc", "opt/.git-credentials", "root/.ssh/id_ecdsa", "var/.npmrc"),
}
_TOKEN = hashlib.sha256(b"gate output tests").hexdigest()
_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
FILES = {
    ".npmrc": f"//registry.npmjs.org/:_authToken=npm_{_TOKEN[:36]}\n",
    ".netrc": f"machine example.com login deploy password {_TOKEN[:20]}\n",
    ".git-credentials": f"https://deploy:ghp_{_TOKEN[:36]}@github.com\n",
    "id_rsa": _KEY,
    "id_ed25519": _KEY,
    "id_ecdsa": _KEY,
    "credentials": f"[default]\naws_access_key_id = AKIA{_TOKEN[:16].upper()}\naws_secret_access_key = {_TOKEN[:40]}\n",
    "config.json": '{"auths": {"ghcr.io": {"auth": "' + base64.b64encode(f"deploy:{_TOKEN[:24]}".encode()).decode() + '"}}}\n',
}


def _leaky(platform: str) -> ImageBuilder:
    files = {path: FILES[path.rsplit("/", 1)[-1]] for path in SECRETS[platform]}
    image = ImageBuilder(platform=platform).layer(files | {"app/server": "x"}, created_by="COPY . / # buildkit")
    return image.config(user="root", created=OLD)


@pytest.fixture(scope="module")
def leaky_index(registry: RegistryServer) -> PushedIndex:
    return push_index(registry, "t/outputs/leaky:1", [_leaky(platform) for platform in PLATFORMS])


@pytest.fixture(scope="module")
def clean_image(registry: RegistryServer) -> str:
    image = ImageBuilder().layer({"app/server": "x"}, created_by="COPY app /app # buildkit")
    return image.config(user="10001", created=RECENT).push(registry, "t/outputs/clean:1").ref


@pytest.fixture(scope="module")
def config(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outputs") / "gate.yaml"
    path.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}}))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check", "image", *argv])
    return code, capsys.readouterr().out


def test_table_fits_80_columns_with_merged_platforms(leaky_index: PushedIndex, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, table = _run(capsys, leaky_index.ref, "--config", str(config))
    _, report = _run(capsys, leaky_index.ref, "--config", str(config), "--output", "json")
    violations = json.loads(report)["results"][0]["violations"]
    assert len([v for v in violations if v["rule"] == "secret.file"]) == 12
    assert code == 1
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 80, table
    header = lines[0]
    assert header.startswith("DENY") and leaky_index.ref in header
    rows = [line for line in lines if line.startswith("  deny ") or line.startswith("  warn ")]
    assert rows == sorted(rows, key=lambda row: not row.startswith("  deny ")), "denies first"
    denies = sum(row.startswith("  deny ") for row in rows)
    assert f"{denies} deny, {len(rows) - denies} warn" in header
    assert len([row for row in rows if "user.root" in row]) == 1, "the same finding on three platforms is one row"
    assert "on linux/amd64, linux/arm64, linux/arm/v7" in table
    for image in leaky_index.images:
        assert any(line.strip().endswith(image.digest[:20]) or image.digest[:30] in line for line in lines), "platform digests named"


def test_table_names_the_signer_of_an_allowed_image(registry: RegistryServer, clean_image: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    double, key = SigstoreInstanceDouble(), ec.generate_private_key(ec.SECP256R1())
    image = ImageBuilder().layer({"app/server": "x"}).config(user="10001", created=RECENT).push(registry, "t/outputs/signed:1")
    sign_with_tag(registry, image, double, Keyed(key))
    (tmp_path / "cosign.pub").write_bytes(pem_public(key))
    (tmp_path / "root.json").write_bytes(double.trusted_root_json())
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}, "rules": {"provenance.missing": {"action": "warn"}}}))
    flags = ("--config", str(config), "--key", str(tmp_path / "cosign.pub"), "--trusted-root", str(tmp_path / "root.json"))
    code, table = _run(capsys, image.ref, *flags)
    assert code == 0, table
    lines = table.splitlines()
    assert lines[0].startswith("ALLOW") and all(len(line) <= 80 for line in lines)
    assert any(line.strip().startswith("signed by key ") for line in lines), table


def test_json_report_validates_for_single_and_multi_platform(
    leaky_index: PushedIndex, clean_image: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = _run(capsys, leaky_index.ref, clean_image, "--config", str(config), "--output", "json")
    report = json.loads(out)
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(report)
    multi, single = report["results"]
    assert sorted(multi["evidence"]["platforms"]) == sorted(PLATFORMS)
    assert list(single["evidence"]["platforms"]) == ["linux/amd64"], "one key for one platform too"
    assert all(v["platform"] in PLATFORMS and v["platform_digest"] != multi["digest"] for v in multi["violations"])
    assert all(v["platform_digest"] == single["digest"] for v in single["violations"])
    assert not any(v["message"].startswith("[") for v in multi["violations"])


def test_json_report_of_an_unevaluated_image_validates(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "Not A Reference!!", "--config", str(config), "--output", "json")
    assert code == 2
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(json.loads(out))


def test_sarif_passes_the_schema_and_carries_what_github_shows(leaky_index: PushedIndex, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, leaky_index.ref, "--config", str(config), "--output", "sarif")
    log = json.loads(out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert code == 1
    run = log["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    secret = rules["secret.file"]
    assert "**Fix**" in secret["help"]["markdown"] and ".dockerignore" in secret["help"]["markdown"], "the remedy itself"
    assert secret["properties"]["security-severity"] == "8.0" and "security" in secret["properties"]["tags"]
    assert rules["content.source"]["properties"]["security-severity"] == "4.0"
    assert "helpUri" not in secret, "no invented address: the help carries the docs section itself"
    fingerprints = set()
    for result in run["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "t/outputs/leaky"
        assert physical["region"]["startLine"] == 1
        fingerprints.add(result["partialFingerprints"]["gateFinding/v1"])
    assert len(fingerprints) == len(run["results"]), "every finding has its own fingerprint"
    _, again = _run(capsys, leaky_index.ref, "--config", str(config), "--output", "sarif")
    assert {r["partialFingerprints"]["gateFinding/v1"] for r in json.loads(again)["runs"][0]["results"]} == fingerprints, "stable across runs"


def test_exit_code_zero_for_report_only_runs(leaky_index: PushedIndex, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, leaky_index.ref, "--config", str(config), "--output", "sarif", "--exit-code", "0")[0] == 0
    assert _run(capsys, "Not A Reference!!", "--config", str(config), "--exit-code", "0")[0] == 2, "errors still exit 2"


def _results(out: str) -> list[dict[str, Any]]:
    return json.loads(out)["results"]


@pytest.mark.parametrize("spelling", ["arm64", "linux/arm64", "linux/aarch64", "linux/arm64/v8"])
def test_platform_spellings_docker_accepts(spelling: str, leaky_index: PushedIndex, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _run(capsys, leaky_index.ref, "--config", str(config), "--output", "json", "--platform", spelling, "--no-layer-scan")
    (result,) = _results(out)
    judged = set(result["evidence"]["platforms"])
    assert "linux/arm64" in judged and "linux/amd64" not in judged, "an arm64 node's images (and those it also runs)"


def test_unknown_platform_lists_those_available(leaky_index: PushedIndex, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, leaky_index.ref, "--config", str(config), "--output", "json", "--platform", "linux/s390x")
    (violation,) = _results(out)[0]["violations"]
    assert code == 2
    assert "linux/amd64, linux/arm/v7, linux/arm64" in violation["message"]
