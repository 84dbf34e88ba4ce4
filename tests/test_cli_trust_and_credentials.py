"""The CLI as cosign and crane users expect it: trust flags alone, the docker config, credential helpers.

Signed images come from the SigstoreInstanceDouble (public Sigstore cannot run here); the registry
with basic auth is the real one from tests/support, reached with a docker config's ``auths`` or
through a ``docker-credential-*`` helper script on PATH.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli import main
from tests.support.images import ImageBuilder
from tests.support.push import PushedManifest
from tests.support.registry_server import RegistryServer
from tests.support.reports import only_evidence
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, pem_public
from tests.support.signing import sign_with_tag

ISSUER = "https://accounts.example"
SUBJECT = "release@example.com"


def _signed(registry: RegistryServer, repo: str, double: SigstoreInstanceDouble, signer: Keyed | Keyless) -> PushedManifest:
    image = ImageBuilder().layer({"app/server": "x"}).config(user="10001").push(registry, f"{repo}:1")
    sign_with_tag(registry, image, double, signer)
    return image


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "image", *argv, "--output", "json", "--no-layer-scan"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def _rules(report: dict[str, Any]) -> set[str]:
    return {v["rule"] for r in report["results"] for v in r["violations"]}


@pytest.fixture(scope="module")
def double() -> SigstoreInstanceDouble:
    return SigstoreInstanceDouble()


@pytest.fixture
def trusted_root(double: SigstoreInstanceDouble, tmp_path: Path) -> Path:
    path = tmp_path / "trusted_root.json"
    path.write_bytes(double.trusted_root_json())
    return path


def test_key_flag_alone_is_the_trust(registry: RegistryServer, repo: str, double: SigstoreInstanceDouble, tmp_path: Path,
                                     trusted_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    image = _signed(registry, repo, double, Keyed(key))
    (tmp_path / "cosign.pub").write_bytes(pem_public(key))
    (tmp_path / "other.pub").write_bytes(pem_public(other))
    insecure = ("--insecure-registry", registry.host, "--trusted-root", str(trusted_root))  # the double's Rekor log

    _, report = _run(capsys, image.ref, *insecure)
    assert "signature.missing" in _rules(report), "no config and no flag: nobody is trusted"
    _, report = _run(capsys, image.ref, *insecure, "--key", str(tmp_path / "other.pub"))
    assert "signature.missing" in _rules(report)
    _, report = _run(capsys, image.ref, *insecure, "--key", str(tmp_path / "other.pub"), "--key", str(tmp_path / "cosign.pub"))
    assert "signature.missing" not in _rules(report)
    (signer,) = only_evidence(report["results"][0])["signatures"]
    assert signer["kind"] == "key"


@pytest.mark.parametrize(
    ("flags", "trusted"),
    [
        (("--certificate-identity", SUBJECT, "--certificate-oidc-issuer", ISSUER), True),
        (("--certificate-identity-regexp", r"@example\.com$", "--certificate-oidc-issuer", ISSUER), True),
        (("--certificate-identity", SUBJECT, "--certificate-oidc-issuer-regexp", "accounts"), True),  # searched, as cosign
        (("--certificate-identity", "someone@example.com", "--certificate-oidc-issuer", ISSUER), False),
        (("--certificate-identity", SUBJECT, "--certificate-oidc-issuer", "https://other.example"), False),
        (("--certificate-identity-regexp", "^example", "--certificate-oidc-issuer", ISSUER), False),
    ],
)
def test_keyless_flags_alone_are_the_trust(flags: tuple[str, ...], trusted: bool, registry: RegistryServer, repo: str,
                                           double: SigstoreInstanceDouble, trusted_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = _signed(registry, repo, double, Keyless(SUBJECT, ISSUER))
    _, report = _run(capsys, image.ref, "--insecure-registry", registry.host, "--trusted-root", str(trusted_root), *flags)
    assert ("signature.missing" not in _rules(report)) is trusted
    if trusted:
        (signer,) = only_evidence(report["results"][0])["signatures"]
        assert (signer["kind"], signer["subject"], signer["issuer"]) == ("keyless", SUBJECT, ISSUER)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (("--certificate-identity", SUBJECT), "--certificate-oidc-issuer"),
        (("--certificate-oidc-issuer", ISSUER), "--certificate-identity"),
        (("--certificate-identity-regexp", "(", "--certificate-oidc-issuer", ISSUER), "regexp"),
        (("--key", "/nonexistent/cosign.pub"), "--key"),
    ],
)
def test_incomplete_trust_flags_are_usage_errors(flags: tuple[str, ...], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "image", "example.com/a:1", *flags]) == 2
    assert said in capsys.readouterr().err


def test_key_flag_adds_to_the_configured_trust(registry: RegistryServer, repo: str, double: SigstoreInstanceDouble, tmp_path: Path,
                                               trusted_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configured, flagged = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "configured.pub").write_bytes(pem_public(configured))
    (tmp_path / "flagged.pub").write_bytes(pem_public(flagged))
    config = tmp_path / "gate.yaml"
    trust = {"keys": ["configured.pub"], "trusted_root": str(trusted_root)}
    config.write_text(json.dumps({"trust": trust, "registries": {"insecure": [registry.host]}}))
    for name, key in (("configured", configured), ("flagged", flagged)):
        image = _signed(registry, f"{repo}-{name}", double, Keyed(key))
        _, report = _run(capsys, image.ref, "--config", str(config), "--key", str(tmp_path / "flagged.pub"))
        assert "signature.missing" not in _rules(report)


# --- credentials ---------------------------------------------------------------------------------------


@pytest.fixture
def private_image(basic_auth_registry: RegistryServer, repo: str) -> str:
    return ImageBuilder().layer({"app/server": "x"}).config(user="10001").push(basic_auth_registry, f"{repo}:1").ref


def _docker_config(directory: Path, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(document))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))


def _helper(bin_dir: Path, name: str, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker-credential-<name>`` script on PATH; it logs each server address it is asked for."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread server\necho \"$server\" >> {bin_dir}/asked\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "asked"


def _reaches(capsys: pytest.CaptureFixture[str], registry: RegistryServer, image: str) -> bool:
    code, report = _run(capsys, image, "--insecure-registry", registry.host)
    assert code in (1, 2), report
    return "evaluation.error" not in _rules(report)


def test_docker_config_auths_are_read_by_default(basic_auth_registry: RegistryServer, private_image: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert not _reaches(capsys, basic_auth_registry, private_image), "anonymous access is refused"
    username, password = basic_auth_registry.credentials or ("", "")
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    _docker_config(tmp_path / "docker", {"auths": {basic_auth_registry.host: {"auth": auth}}}, monkeypatch)
    assert _reaches(capsys, basic_auth_registry, private_image)


def test_home_docker_config_when_no_docker_config_env(basic_auth_registry: RegistryServer, private_image: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    username, password = basic_auth_registry.credentials or ("", "")
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"auths": {basic_auth_registry.host: {"auth": auth}}}))
    assert _reaches(capsys, basic_auth_registry, private_image)


@pytest.mark.parametrize("key", ["credsStore", "credHelpers"])
def test_credential_helper_is_run(key: str, basic_auth_registry: RegistryServer, private_image: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    username, password = basic_auth_registry.credentials or ("", "")
    answer = json.dumps({"ServerURL": basic_auth_registry.host, "Username": username, "Secret": password})
    asked = _helper(tmp_path / "bin", "gatetest", f"echo '{answer}'", monkeypatch)
    helper = "gatetest" if key == "credsStore" else {basic_auth_registry.host: "gatetest"}
    wrong = base64.b64encode(b"someone:wrong").decode()  # the helper wins over auths, as in docker
    _docker_config(tmp_path / "docker", {key: helper, "auths": {basic_auth_registry.host: {"auth": wrong}}}, monkeypatch)
    assert _reaches(capsys, basic_auth_registry, private_image)
    assert asked.read_text().split() == [basic_auth_registry.host], "asked once, with the registry host on stdin"


def test_credential_helper_without_credentials_means_anonymous(basic_auth_registry: RegistryServer, private_image: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _helper(tmp_path / "bin", "empty", "echo 'credentials not found in native keychain'; exit 1", monkeypatch)
    _docker_config(tmp_path / "docker", {"credsStore": "empty"}, monkeypatch)
    code, report = _run(capsys, private_image, "--insecure-registry", basic_auth_registry.host)
    (violation,) = report["results"][0]["violations"]
    assert code == 2 and violation["rule"] == "evaluation.error"
    assert "docker-credential" not in violation["message"], "not found is not a helper failure"


def test_missing_credential_helper_is_named(basic_auth_registry: RegistryServer, private_image: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _docker_config(tmp_path / "docker", {"credsStore": "nosuchhelper"}, monkeypatch)
    code, report = _run(capsys, private_image, "--insecure-registry", basic_auth_registry.host)
    assert code == 2
    assert "docker-credential-nosuchhelper" in report["results"][0]["violations"][0]["message"]
