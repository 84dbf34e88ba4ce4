"""A configuration mistake never silently weakens a rule: each malformed config below is refused at
start-up, naming the key path (and the line, from the YAML file), with a suggestion for a near miss.

Each case is a YAML document as an operator would write it, loaded through ``gate.config.load``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate import config
from gate.errors import ConfigError
from tests.support.sigstore_double import pem_public

IMAGE = """
images:
  - name: acme
    match: ["ghcr.io/acme/**"]
    authorities: [{key: acme.pub}]
"""

# (case id, YAML text, expected "path (line N)" or path, more text the message must hold)
CASES: list[tuple[str, str, str, str]] = [
    ("top-level typo", "trsut:\n  keys: []\n", "trsut (line 1)", "did you mean `trust`?"),
    ("trust key typo", "trust:\n  require_tls: false\n", "trust.require_tls (line 2)", "did you mean `require_tlog`?"),
    ("keyless without subject", "trust:\n  keyless:\n    - issuer: https://i.example\n", "trust.keyless[0] (line 3)", "subject"),
    ("keyless bad regex", "trust:\n  keyless:\n    - {issuer: https://i.example, subject_regex: '('}\n", "trust.keyless[0].subject_regex", "regular expression"),
    ("keyless issuer and issuer_regex", "trust:\n  keyless:\n    - {issuer: a, issuer_regex: b, subject: c}\n", "trust.keyless[0]", "issuer_regex"),
    ("unknown rule", "rules:\n  image.stael: {action: deny}\n", "rules.image.stael (line 2)", "did you mean `image.stale`?"),
    ("misspelled parameter", "rules:\n  image.stale: {action: warn, max_age_day: 30}\n", "rules.image.stale.max_age_day (line 2)", "did you mean `max_age_days`?"),
    ("string parameter", "rules:\n  image.stale: {max_age_days: \"0\"}\n", "rules.image.stale.max_age_days (line 2)", "expected an integer, got a string"),
    ("null parameter", "rules:\n  image.stale: {max_age_days: null}\n", "rules.image.stale.max_age_days", "got null"),
    ("negative parameter", "rules:\n  image.stale: {max_age_days: -1}\n", "rules.image.stale.max_age_days", "greater than or equal to 0"),
    ("boolean parameter", "rules:\n  image.stale: {max_age_days: true}\n", "rules.image.stale.max_age_days", "got a boolean"),
    ("float parameter", "rules:\n  image.stale: {max_age_days: 1.5}\n", "rules.image.stale.max_age_days", "integer"),
    ("parameter on a rule without any", "rules:\n  user.root: {action: deny, allow_root: true}\n", "rules.user.root.allow_root", "takes no parameters"),
    ("allow list not a list", "rules:\n  builder.untrusted: {allow: sha256:abc}\n", "rules.builder.untrusted.allow", "expected a list"),
    ("allow list entry not a digest", "rules:\n  builder.untrusted: {allow: [golang:1.22]}\n", "rules.builder.untrusted.allow", "is not a digest"),
    ("deny list entry typo", "rules:\n  sbom.denied-component:\n    deny: [{purl: pkg:npm/lodash, rnage: 'vers:npm/<1'}]\n",
     "rules.sbom.denied-component.deny[0].rnage", "did you mean `range`?"),
    ("deny list without purl", "rules:\n  sbom.denied-component:\n    deny: [{reason: x}]\n", "rules.sbom.denied-component.deny[0].purl", "required key is missing"),
    ("rule settings null", "rules:\n  image.stale:\n", "rules.image.stale (line 2)", "expected a mapping, got null"),
    ("action misspelled", "rules:\n  user.root: {action: dney}\n", "rules.user.root.action (line 2)", "did you mean `deny`?"),
    ("action on", "rules:\n  user.root: {action: on}\n", "rules.user.root.action", "`on`/`true` is not an action"),
    ("namespace unknown rule", "namespaces:\n  shop:\n    rules:\n      user.rot: {action: off}\n", "namespaces.shop.rules.user.rot (line 4)", "did you mean `user.root`?"),
    ("namespace mistyped parameter", "namespaces:\n  shop:\n    rules:\n      image.stale: {max_age_days: '30'}\n",
     "namespaces.shop.rules.image.stale.max_age_days", "expected an integer"),
    ("namespace key typo", "namespaces:\n  shop:\n    rule: {}\n", "namespaces.shop.rule (line 3)", "did you mean `rules`?"),
    ("exemption unknown rule", "exemptions:\n  - {reason: r, rules: [user.roots]}\n", "exemptions[0].rules[0]", "did you mean `user.root`?"),
    ("exemption without reason", "exemptions:\n  - {rules: [user.root]}\n", "exemptions[0].reason", "required key is missing"),
    ("exemption bad date", "exemptions:\n  - {reason: r, rules: [user.root], expires: someday}\n", "exemptions[0].expires", "date"),
    ("limit as string", "limits:\n  retries: three\n", "limits.retries (line 2)", "expected an integer"),
    ("limit zero", "limits:\n  timeout_seconds: 0\n", "limits.timeout_seconds", "greater than 0"),
    ("negative worker processes", "scan:\n  worker_processes: -1\n", "scan.worker_processes (line 2)", "greater than or equal to 0"),
    ("worker processes as boolean", "scan:\n  worker_processes: true\n", "scan.worker_processes (line 2)", "got a boolean"),
    ("worker processes as string", "scan:\n  worker_processes: '2'\n", "scan.worker_processes (line 2)", "expected an integer"),
    ("images not a list", "images: {name: acme}\n", "images (line 1)", "expected a list"),
    ("image entry without authorities", "images:\n  - {name: acme, match: ['ghcr.io/acme/**']}\n", "images[0].authorities", "required key is missing"),
    ("image entry without match", "images:\n  - {name: acme, authorities: []}\n", "images[0].match", "required key is missing"),
    ("image entry empty match", "images:\n  - {name: acme, match: [], authorities: []}\n", "images[0].match", "at least 1"),
    ("image match without registry", "images:\n  - {name: acme, match: [nginx], authorities: []}\n", "images[0].match", "docker.io/library/nginx"),
    ("image match on a Docker Hub alias", "images:\n  - {name: h, match: ['index.docker.io/library/*'], authorities: []}\n", "images[0].match", "normalised to docker.io"),
    ("image key typo", "images:\n  - {name: acme, match: ['ghcr.io/acme/**'], authorites: []}\n", "images[0].authorites (line 2)", "did you mean `authorities`?"),
    ("authority with key and keyless", "images:\n  - name: a\n    match: ['ghcr.io/a/*']\n    authorities: [{key: acme.pub, keyless: {issuer: i, subject: s}}]\n",
     "images[0].authorities[0]", "exactly one of `key` or `keyless`"),
    ("authority with neither", "images:\n  - {name: a, match: ['ghcr.io/a/*'], authorities: [{name: x}]}\n", "images[0].authorities[0]", "exactly one of `key` or `keyless`"),
    ("unknown certificate extension",
     "images:\n  - name: a\n    match: ['ghcr.io/a/*']\n    authorities:\n      - keyless: {issuer: i, subject: s, extensions: {github_workflow_triger: push}}\n",
     "images[0].authorities[0].keyless.extensions.github_workflow_triger", "did you mean `github_workflow_trigger`?"),
    ("extension value not a string",
     "images:\n  - name: a\n    match: ['ghcr.io/a/*']\n    authorities:\n      - keyless: {issuer: i, subject: s, extensions: {build_trigger: 1}}\n",
     "images[0].authorities[0].keyless.extensions.build_trigger", "expected a string"),
    ("threshold above authorities", IMAGE + "    threshold: 2\n", "images[0] (line 3)", "threshold 2"),
    ("threshold zero with authorities", IMAGE + "    threshold: 0\n", "images[0]", "threshold 0"),
    ("threshold as string", IMAGE + "    threshold: '1'\n", "images[0].threshold", "expected an integer"),
    ("attestations without authorities", "images:\n  - {name: a, match: ['ghcr.io/a/*'], authorities: [], attestations: [{type: 'https://slsa.dev/provenance/v1'}]}\n",
     "images[0]", "`authorities` is empty"),
    ("attestation key typo", IMAGE + "    attestations: [{predicate_type: 'https://slsa.dev/provenance/v1'}]\n", "images[0].attestations[0].predicate_type", "allowed: type"),
    ("image rules unknown rule", IMAGE + "    rules: {signature.mising: {action: off}}\n", "images[0].rules.signature.mising (line 6)", "did you mean `signature.missing`?"),
    ("image rules mistyped parameter", IMAGE + "    rules: {image.stale: {max_age_days: 30d}}\n", "images[0].rules.image.stale.max_age_days", "expected an integer"),
    ("duplicate image policy names", IMAGE + "  - {name: acme, match: ['ghcr.io/b/*'], authorities: []}\n", "images", "repeated: acme"),
    ("authority key missing", "images:\n  - {name: a, match: ['ghcr.io/a/*'], authorities: [{key: nowhere.pub}]}\n", "images[0].authorities[0].key", "cannot read"),
]


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "acme.pub").write_bytes(pem_public(ec.generate_private_key(ec.SECP256R1())))
    return tmp_path


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("text", "where", "says"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_malformed_config_is_refused_naming_the_key_path(directory: Path, text: str, where: str, says: str) -> None:
    path = directory / "gate.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    message = caught.value.message
    assert f"{where}:" in message or f"{where} (line" in message, message
    assert says in message, message


def test_the_well_formed_version_loads(directory: Path) -> None:
    """The same keys, written right, load: the refusals above are about the mistakes only."""
    path = directory / "gate.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            trust: {require_tlog: false}
            rules:
              image.stale: {action: off, max_age_days: 30}
              builder.untrusted: {allow: ["sha256:%s"]}
            namespaces:
              shop: {rules: {image.stale: {action: deny, max_age_days: 7}}}
            images:
              - name: acme
                match: ["ghcr.io/acme/**"]
                namespaces: [shop]
                authorities:
                  - {name: release, key: acme.pub}
                  - keyless: {issuer_regex: "^https://token\\\\.actions\\\\..*$", subject: s, extensions: {github_workflow_trigger: push}}
                threshold: 2
                attestations: [{type: "https://slsa.dev/provenance/v1"}]
                rules: {user.root: {action: warn}}
            exemptions:
              - {reason: r, rules: [attestation.missing], images: ["ghcr.io/acme/legacy/*"]}
            """
            % ("a" * 64)
        )
    )
    loaded = config.load(path)
    assert loaded.rules["image.stale"].action == "off"  # unquoted `off` is YAML false, read as off
    assert loaded.images[0].required == 2 and loaded.images[0].authorities[0].key == directory / "acme.pub"


def test_a_site_rule_id_is_known_only_when_loaded_rego_defines_it(directory: Path) -> None:
    site = directory / "site"
    site.mkdir()
    (site / "rule.rego").write_text('package gate.rules.acme\n\nimport rego.v1\n\nviolations contains {"rule": "acme.no-latest", "message": "m"} if false\n')
    path = directory / "gate.yaml"
    path.write_text("rules:\n  acme.no-latest: {action: warn, tags: [latest]}\n")
    with pytest.raises(ConfigError, match=r"rules\.acme\.no-latest \(line 2\): unknown rule ID `acme\.no-latest`.*known rule IDs: .*user\.root"):
        config.load(path)
    assert config.load(path, policy_dirs=(site,)).rules["acme.no-latest"].params() == {"tags": ["latest"]}
    path.write_text(f"policy: {{dirs: [{site}]}}\nrules:\n  acme.no-latest: {{action: warn, tags: null}}\n")
    with pytest.raises(ConfigError, match=r"rules\.acme\.no-latest\.tags \(line 3\): null is not a parameter value"):
        config.load(path)


def test_the_documented_three_publisher_example_loads(tmp_path: Path) -> None:
    """docs/configuration.md's worked example is a config gate accepts, with the scopes it describes."""
    import re

    from gate.verify import TrustPolicy, image_scope

    docs = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    example = re.search(r"### Worked example: three publishers\n.*?```yaml\n(.*?)```", docs, re.DOTALL)
    assert example is not None
    (tmp_path / "keys").mkdir()
    for name in ("legacy", "security", "vendor"):
        (tmp_path / "keys" / f"{name}.pub").write_bytes(pem_public(ec.generate_private_key(ec.SECP256R1())))
    path = tmp_path / "gate.yaml"
    path.write_text(example.group(1))
    loaded = config.load(path)
    trust = TrustPolicy.from_config(loaded.trust, loaded.images)

    def entries(registry: str, repository: str, namespace: str | None) -> tuple[str, ...]:
        return image_scope(loaded.images, trust, (registry, repository, "1", None), namespace).key

    assert entries("ghcr.io", "acme/payments/ledger", "payments") == ("acme", "acme-payments")
    assert entries("ghcr.io", "acme/payments/ledger", "shop") == ("acme",)
    assert entries("docker.io", "library/nginx", None) == ("public-bases",)
    assert entries("docker.io", "bitnami/redis", None) == ()
    assert entries("registry.vendor.example", "agent", None) == ("vendor",)
