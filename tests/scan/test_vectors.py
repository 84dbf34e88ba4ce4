"""Secret detection measured against third-party vectors (never edited; see vectors/PROVENANCE.md).

* gitleaks ``secrets/gitleaks/priority_rules.json`` (gitleaks/gitleaks@b58d3f102cf3, MIT): the
  upstream true/false positives of the rules for the common credential kinds. Gate: >= 95% of
  true positives found and <= 2% of false positives flagged, overall; each rule's rates printed.
  A false positive counts when *any* gate detector flags it (stricter than gitleaks' per-rule
  check).
* containers/image docker ``config.json`` test files (``secrets/docker-config``): inline
  credentials must be found when the file sits at ``.docker/config.json``; credHelper-only and
  empty files must stay quiet.
* detect-secrets plugin cases (Yelp/detect-secrets@5e141933554a) for the token kinds gate covers:
  >= 95% of true positives found and <= 2% of false positives flagged, each plugin's rates printed,
  over the cases gate does not deliberately decide otherwise. Those few are listed below in
  ``DETECT_SECRETS_DEVIATIONS`` with the reason for each; they are printed, and each must still
  be a deviation (an entry that no longer differs fails, so the list cannot go stale).

gitleaks' generated JWT samples (random ``ey….ey…`` strings made from its regex) are not JWTs: gate
requires a JWT's header and payload to decode to JSON objects, so they are not found by the jwt rule.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from gate.scan import scan_file
from tests.support.vectors import VECTORS as REPOSITORY_VECTORS

VECTORS = REPOSITORY_VECTORS / "secrets"

DETECT_SECRETS_PLUGINS = {
    "AWSKeyDetector", "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector", "NpmDetector",
    "PrivateKeyDetector", "PypiTokenDetector", "SlackDetector", "StripeDetector", "BasicAuthDetector",
}


_AWS_PLACEHOLDER = ("a key ID whose body is one repeated letter is a placeholder, not an issued key: gate, like "
                    "gitleaks, requires the ID to be random (entropy above 3 bits)")
_NPM_KEY_SYNTAX = ("a UUID given as _authToken is an npm legacy token; a malformed registry key in front of it "
                   "only decides whether npm would send it, not whether the token leaked")
# detect-secrets cases gate deliberately decides otherwise, keyed by (plugin, input), with the reason.
DETECT_SECRETS_DEVIATIONS: dict[tuple[str, str], str] = {
    **{("AWSKeyDetector", prefix + "Z" * 16): _AWS_PLACEHOLDER for prefix in ("AKIA", "A3T0", "ABIA", "ACCA", "ASIA")},
    ("AWSKeyDetector", 'aws_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'):
        "AWS's documented example secret access key; documented examples are allowlisted on purpose",
    ("NpmDetector", "//registry.npmjs.org/:_authToken=npm_xxxxxxxxxxx"):
        "a placeholder (a run of x), also shorter than an npm token (npm_ and 36 characters)",
    ("SlackDetector", "https://hooks.slack.com/services/Txxxxxxxx/Bxxxxxxxx/xxxxxxxxxxxxxxxxxxxxxxxx"):
        "a placeholder webhook (runs of x where the IDs and secret go)",
    # Literals split so the repository itself holds no token-shaped string.
    ("GitLabTokenDetector", "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"):
        "a GitHub token, rightly reported as github-pat; the case only says it is not a GitLab token",
    **{("NpmDetector", key + "_authToken=" + "743b294a-cd03-11ec-9d64-0242ac120002"): _NPM_KEY_SYNTAX
       for key in ("//registry.npmjs.org:", "registry.npmjs.org/:", "///:", "")},
}


def _flagged(path: str, content: str) -> bool:
    return bool(scan_file(path, content.encode("utf-8", "surrogateescape")))


def _cases(rule: dict, key: str) -> list[tuple[str, str]]:
    cases = []
    for case in rule[key] + rule.get(f"{key}_generated", []):
        if isinstance(case, dict):
            cases.append((case["path"], case["content"]))
        else:
            cases.append(("vector.txt", case))
    return cases


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total}" + (f" ({hits / total:.1%})" if total else "")


def test_gitleaks_priority_rules_recall_and_false_positives(capsys: pytest.CaptureFixture[str]) -> None:
    rules = json.loads((VECTORS / "gitleaks" / "priority_rules.json").read_text())
    found = positives = flagged = negatives = 0
    lines = []
    for group, members in rules.items():
        for rule in members:
            tps, fps = _cases(rule, "tps"), _cases(rule, "fps")
            rule_found = sum(_flagged(path, content) for path, content in tps)
            rule_flagged = sum(_flagged(path, content) for path, content in fps)
            found, positives = found + rule_found, positives + len(tps)
            flagged, negatives = flagged + rule_flagged, negatives + len(fps)
            lines.append(f"{group:28} {rule['rule_id']:45} recall {_rate(rule_found, len(tps)):18} "
                         f"false positives {_rate(rule_flagged, len(fps))}")
    with capsys.disabled():
        print("\ngitleaks priority rules (per rule):\n" + "\n".join(lines))
        print(f"overall recall {_rate(found, positives)}, false positives {_rate(flagged, negatives)}")
    assert positives > 1000 and negatives > 100
    assert found / positives >= 0.95
    assert flagged / negatives <= 0.02


def _docker_config_cases() -> list[tuple[str, bool]]:
    index = json.loads((VECTORS / "docker-config" / "index.json").read_text())
    return [(entry["file"], entry["contains_inline_credentials"]) for entry in index["files"]]


@pytest.mark.parametrize(("name", "has_credentials"), _docker_config_cases())
def test_docker_config_files(name: str, has_credentials: bool) -> None:
    content = (VECTORS / "docker-config" / name).read_bytes()
    findings = scan_file("root/.docker/config.json", content)
    assert any(f.detector == "docker-config" for f in findings) is has_credentials
    assert all(f.preview is None or "example" not in f.preview for f in findings)


def test_detect_secrets_plugins_for_covered_token_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    cases = json.loads((VECTORS / "detect-secrets" / "cases.json").read_text())["detection_cases"]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    deviations, seen = [], set()
    for case in cases:
        if case["plugin"] not in DETECT_SECRETS_PLUGINS:
            continue
        hit = _flagged("vector.txt", case["input"])
        key = (case["plugin"], case["input"])
        if key in DETECT_SECRETS_DEVIATIONS:
            seen.add(key)
            expected = "flag" if case["should_flag"] else "no flag"
            deviations.append(f"  {case['plugin']:22} {case['input'][:60]!r:64} detect-secrets: {expected}; "
                              f"gate: {'flag' if hit else 'no flag'} ({DETECT_SECRETS_DEVIATIONS[key]})")
            assert hit is not case["should_flag"], f"no longer a deviation, drop it from the list: {key}"
            continue
        row = counts[case["plugin"]]
        if case["should_flag"]:
            row[0] += 1
            row[1] += hit
        else:
            row[2] += 1
            row[3] += hit
    total = [sum(row[i] for row in counts.values()) for i in range(4)]
    with capsys.disabled():
        print("\ndetect-secrets cases (per plugin, documented deviations excluded):")
        for plugin, (tp, found, fp, flagged) in sorted(counts.items()):
            print(f"  {plugin:22} recall {_rate(found, tp):16} false positives {_rate(flagged, fp)}")
        print(f"  overall recall {_rate(total[1], total[0])}, false positives {_rate(total[3], total[2])}")
        print(f"documented deviations ({len(deviations)}):\n" + "\n".join(deviations))
    assert seen == set(DETECT_SECRETS_DEVIATIONS), "a deviation names no detect-secrets case"
    assert set(counts) == DETECT_SECRETS_PLUGINS
    assert total[1] / total[0] >= 0.95
    assert total[3] / total[2] <= 0.02


def test_detect_secrets_private_key_file_is_found() -> None:
    content = (VECTORS / "detect-secrets" / "test_data" / "files" / "private_key").read_bytes()
    assert [f.detector for f in scan_file("home/app/.ssh/id_rsa", content)] == ["ssh-private-key"]
