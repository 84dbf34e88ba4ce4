"""`gate check image` end to end: real images on the real test registry, JSON report and exit codes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.cli import main
from tests.support.artifacts import push_index
from tests.support.images import ImageBuilder
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.registry_server import RegistryServer, free_port
from tests.support.stalling_host import StallingHostDouble
from tests.support.reports import only_evidence

RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # never stale
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/home/app:/sbin/nologin\ntoor:x:0:0::/root:/bin/sh\n"
# These tests are about the image itself; evidence rules are judged in their own suites.
EVIDENCE_OFF = {rule: {"action": "off"} for rule in ("signature.missing", "provenance.missing", "sbom.missing")}


@pytest.fixture
def config_file(tmp_path: Path, registry: RegistryServer) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump({"registries": {"insecure": [registry.host]}, "rules": EVIDENCE_OFF}))
    return path


def _image(user: str | None, platform: str = "linux/amd64", media: str = "oci") -> ImageBuilder:
    image = ImageBuilder(platform=platform, media=media)  # type: ignore[arg-type]
    image.layer({"etc/passwd": PASSWD, "app/server": "#!/bin/sh\necho ok\n"}, created_by="COPY app /app # buildkit")
    return image.config(user=user, created=RECENT)


def _check(capsys: pytest.CaptureFixture[str], config: Path, *refs: str, extra: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    code = main(["check", "image", *refs, "--config", str(config), "--output", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _rules(result: dict[str, Any]) -> list[str]:
    return [violation["rule"] for violation in result["violations"]]


@pytest.mark.parametrize("user", [None, "", "root", "0", "0:0", "toor"])
def test_root_user_is_denied(user: str | None, registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pushed = _image(user).push(registry, f"{repo}:1")
    code, report = _check(capsys, config_file, pushed.ref)
    (result,) = report["results"]
    assert code == 1
    assert result["decision"] == "deny"
    assert result["digest"] == pushed.digest
    assert _rules(result) == ["user.root"]


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_non_root_image_is_allowed(media: str, registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pushed = _image("10001", media=media).push(registry, f"{repo}:1")
    code, report = _check(capsys, config_file, pushed.ref)
    (result,) = report["results"]
    assert (code, result["decision"], result["violations"]) == (0, "allow", [])
    assert report["gate_version"] and report["policy_digest"].startswith("sha256:")
    assert only_evidence(result)["config"]["user"] == "10001"


def test_named_user_resolves_through_passwd(registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pushed = _image("app").push(registry, f"{repo}:1")
    code, report = _check(capsys, config_file, pushed.ref)
    assert code == 0, report
    effective = only_evidence(report["results"][0])["config"]["effective_user"]
    assert effective == {"name": "app", "uid": 10001, "is_root": False, "resolved_by": "passwd"}


def test_index_is_judged_on_every_platform(registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = push_index(registry, f"{repo}:multi", [_image("10001", "linux/amd64"), _image("0", "linux/arm64")])
    code, report = _check(capsys, config_file, index.ref)
    (violation,) = report["results"][0]["violations"]
    assert code == 1
    assert violation["rule"] == "user.root"
    assert violation["platform"] == "linux/arm64"
    assert violation["platform_digest"] == index.images[1].digest
    assert not violation["message"].startswith("["), "the platform is a field, not a prefix of the message"

    code, report = _check(capsys, config_file, index.ref, extra=("--platform", "linux/amd64"))
    assert (code, report["results"][0]["decision"]) == (0, "allow")


def test_several_references_worst_exit_code_wins(registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _image("10001").push(registry, f"{repo}:good")
    bad = _image("root").push(registry, f"{repo}:bad")
    code, report = _check(capsys, config_file, good.ref, bad.ref)
    assert code == 1
    assert [r["decision"] for r in report["results"]] == ["allow", "deny"]
    code, report = _check(capsys, config_file, good.ref, f"{registry.host}/{repo}:missing")
    assert code == 2


def _error_of(capsys: pytest.CaptureFixture[str], config: Path, ref: str) -> dict[str, Any]:
    code, report = _check(capsys, config, ref)
    (result,) = report["results"]
    assert code == 2
    assert result["decision"] == "deny"
    (violation,) = result["violations"]
    assert violation["rule"] == "evaluation.error" and violation["action"] == "deny"
    return violation


def test_unparseable_reference(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    violation = _error_of(capsys, config_file, "Not A Reference!!")
    assert "Not A Reference!!" in violation["message"]


def test_missing_tag(registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    violation = _error_of(capsys, config_file, f"{registry.host}/{repo}:nope")
    assert "not found" in violation["message"].lower()


def test_registry_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = f"127.0.0.1:{free_port()}"
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"registries": {"insecure": [host]}, "limits": {"retries": 0}}))
    violation = _error_of(capsys, config, f"{host}/shop/api:1")
    assert host in violation["message"]


def test_config_that_is_not_json(registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pushed = _image("10001").config(raw=b"\x00 not json").push(registry, f"{repo}:1")
    violation = _error_of(capsys, config_file, pushed.ref)
    assert pushed.config_digest in violation["message"] and "JSON" in violation["message"]


def test_fail_open_turns_errors_into_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"fail_open": True}))
    code, report = _check(capsys, config, "Not A Reference!!")
    (result,) = report["results"]
    assert code == 2, "an image that was not evaluated still exits 2"
    assert result["decision"] == "allow"
    assert result["violations"][0]["action"] == "warn"


def test_bad_config_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"trust": {"keyless": [{"issuer": "https://issuer.example"}]}}))
    code = main(["check", "image", "example.com/a:1", "--config", str(config)])
    assert code == 2
    assert "trust.keyless[0]" in capsys.readouterr().err


def test_table_output_and_console_script(registry: RegistryServer, repo: str, config_file: Path) -> None:
    pushed = _image("root").push(registry, f"{repo}:1")
    gate = Path(sys.executable).with_name("gate")
    done = subprocess.run([str(gate), "check", "image", pushed.ref, "--config", str(config_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "DENY" in done.stdout and "user.root" in done.stdout and pushed.ref in done.stdout


def _proxy_config(tmp_path: Path, proxy: LyingRegistryProxyDouble) -> Path:
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"registries": {"insecure": [proxy.host]}, "rules": EVIDENCE_OFF, "limits": {"retries": 0}}))
    return config


def test_registry_failing_during_signature_lookup_fails_closed(
    lying_proxy: LyingRegistryProxyDouble, registry: RegistryServer, repo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Evidence the registry could not serve is unknown, not absent: evaluation.error, not a verdict."""
    pushed = _image("10001").push(registry, f"{repo}:1")
    lying_proxy.fail(times=100, status=503, path_contains=".sig")
    violation = _error_of(capsys, _proxy_config(tmp_path, lying_proxy), pushed.ref.replace(registry.host, lying_proxy.host))
    assert "503" in violation["message"]


def test_registry_lying_about_a_layer_fails_closed(
    lying_proxy: LyingRegistryProxyDouble, registry: RegistryServer, repo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _image("10001").layer({"app/unique": repo}, created_by="COPY unique /app/")  # not in the layer cache yet
    pushed = image.push(registry, f"{repo}:1")
    lying_proxy.corrupt_body(pushed.layer_digests[-1])
    violation = _error_of(capsys, _proxy_config(tmp_path, lying_proxy), pushed.ref.replace(registry.host, lying_proxy.host))
    assert pushed.layer_digests[-1] in violation["message"]


def test_a_layer_that_cannot_be_scanned_denies_and_the_rest_is_still_judged(
    registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = ImageBuilder().layer({"etc/passwd": PASSWD}).config(user="root", created=RECENT)
    image.raw_layer(b"\x1f\x8b\x08\x00 this is not gzip", "application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + "0" * 64)
    pushed = image.push(registry, f"{repo}:1")
    code, report = _check(capsys, config_file, pushed.ref)
    (result,) = report["results"]
    assert code == 2 and result["decision"] == "deny"
    assert sorted(_rules(result)) == ["evaluation.error", "user.root"]
    error = next(v for v in result["violations"] if v["rule"] == "evaluation.error")
    assert "could not be scanned" in error["message"] and pushed.layer_digests[1] in error["message"]


def test_table_says_how_an_unevaluated_image_was_decided(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text(yaml.safe_dump({"fail_open": True}))
    assert main(["check", "image", "Not A Reference!!", "--config", str(config)]) == 2
    assert "ERROR (allow)" in capsys.readouterr().out


def test_overall_timeout_stops_a_drip_feeding_registry(registry: RegistryServer, repo: str, config_file: Path, tmp_path: Path) -> None:
    """The host answers 200 and then one byte every 50 ms for ever: no single read ever times out."""
    pushed = _image("10001").push(registry, f"{repo}:1")
    gate = Path(sys.executable).with_name("gate")
    with StallingHostDouble(drip_seconds=0.05) as dripping:
        config = tmp_path / "drip.yaml"
        config.write_text(yaml.safe_dump({"registries": {"insecure": [dripping.host, registry.host]}, "rules": EVIDENCE_OFF}))
        done = subprocess.run([str(gate), "check", "image", f"{dripping.host}/shop/api:1", "--config", str(config),
                               "--output", "json", "--timeout", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    [violation] = json.loads(done.stdout)["results"][0]["violations"]
    assert violation["rule"] == "evaluation.error" and "timed out" in violation["message"]
    honest = subprocess.run([str(gate), "check", "image", pushed.ref, "--config", str(config_file), "--timeout", "60"],
                            capture_output=True, text=True, timeout=120)
    assert honest.returncode == 0, honest.stdout + honest.stderr


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_timeout_must_be_positive_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "image", "x:1", "--timeout", value])
    assert exited.value.code == 2 and "positive number of seconds" in capsys.readouterr().err


def test_control_characters_from_the_image_are_escaped_in_messages_and_the_table(
    registry: RegistryServer, repo: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that would clear the screen and forge an ALLOW line is shown escaped, never raw."""
    hostile = "app/\x1b[2J\x1b[H\nALLOW  all good\u202e/.npmrc"
    image = _image("10001").layer({hostile: "//registry.npmjs.org/:_authToken=npm_" + "a1B2c3D4e5" * 3 + "f6G7h8\n"})
    pushed = image.push(registry, f"{repo}:ctl")
    code = main(["check", "image", pushed.ref, "--config", str(config_file)])
    table = capsys.readouterr().out
    assert code == 1 and "secret.file" in table
    assert "\x1b" not in table and "\u202e" not in table and "\nALLOW" not in table
    assert "\\x1b[2J" in table and "\\u202e/.npmrc" in table  # escaped (the table may wrap between them)
    code, report = _check(capsys, config_file, pushed.ref)
    [message] = [v["message"] for v in report["results"][0]["violations"] if v["rule"] == "secret.file"]
    assert "\\x1b[2J" in message and "\x1b" not in message
    honest = _image("10001").layer({"app/.npmrc": "registry=https://registry.npmjs.org/\n"}).push(registry, f"{repo}:plain")
    assert main(["check", "image", honest.ref, "--config", str(config_file)]) == 0
