"""The one typed, frozen configuration object, loaded and checked once at start-up.

The YAML schema is docs/configuration.md; pydantic does the validation so every error names its field path
(``trust.keyless[0].subject_regex: ...``). Paths in the file are relative to the file. Only this
module reads settings; everything else receives the ``Config`` it is given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from gate import _config_errors as errors
from gate._globs import glob_problem
from gate.errors import ConfigError
from gate.rules import RULES, rule_ids_defined

if TYPE_CHECKING:  # cryptography is imported where a key is read: most runs name none
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    SigningKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

MiB = 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


FULCIO_EXTENSIONS: tuple[str, ...] = (
    "github_workflow_trigger", "github_workflow_sha", "github_workflow_name", "github_workflow_repository", "github_workflow_ref",
    "build_signer_uri", "build_signer_digest", "runner_environment", "source_repository_uri", "source_repository_digest",
    "source_repository_ref", "source_repository_identifier", "source_repository_owner_uri", "source_repository_owner_identifier",
    "build_config_uri", "build_config_digest", "build_trigger", "run_invocation_uri", "source_repository_visibility_at_signing",
)
"""Fulcio certificate extensions (OIDs 1.3.6.1.4.1.57264.1.2-.6 and .9-.22) a keyless identity may require."""

FulcioExtension = Literal[FULCIO_EXTENSIONS]  # type: ignore[valid-type]


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


class KeylessIdentity(_Frozen):
    """A Fulcio-certificate identity: the OIDC issuer (exact or regex), an exact subject or a subject
    regex, and certificate extensions that must hold exactly (``github_workflow_trigger: push``)."""

    issuer: StrictStr | None = None
    issuer_regex: StrictStr | None = None
    subject: StrictStr | None = None
    subject_regex: StrictStr | None = None
    extensions: dict[FulcioExtension, StrictStr] = Field(default_factory=dict)

    _compiles = field_validator("subject_regex", "issuer_regex")(_regex)

    @model_validator(mode="after")
    def _one_each(self) -> "KeylessIdentity":
        if (self.issuer is None) == (self.issuer_regex is None):
            raise ValueError("set exactly one of `issuer` or `issuer_regex`")
        if (self.subject is None) == (self.subject_regex is None):
            raise ValueError("set exactly one of `subject` or `subject_regex`")
        if (self.issuer is None) == (self.issuer_regex is None):
            raise ValueError("set exactly one of `issuer` or `issuer_regex`")
        return self

    def matches(self, issuer: str, subject: str, extensions: dict[str, str] | None = None) -> bool:
        """True when a certificate's issuer, subject and extensions satisfy this identity (regex: full match)."""
        if not _equal_or_full_match(issuer, self.issuer, self.issuer_regex):
            return False
        if not _equal_or_full_match(subject, self.subject, self.subject_regex):
            return False
        found = extensions or {}
        return all(found.get(name) == wanted for name, wanted in self.extensions.items())

    def describe(self) -> str:
        """The identity as people write it in messages."""
        issuer = self.issuer if self.issuer is not None else f"issuer~{self.issuer_regex}"
        subject = self.subject if self.subject is not None else f"subject~{self.subject_regex}"
        extras = "".join(f" {name}={value}" for name, value in sorted(self.extensions.items()))
        return f"{issuer} {subject}{extras}"


def _equal_or_full_match(value: str, exact: str | None, pattern: str | None) -> bool:
    if exact is not None:
        return value == exact
    return re.fullmatch(pattern or "", value) is not None


class SummaryVerifier(_Frozen):
    """A gate whose signed verification summaries are accepted instead of gathering and scanning again."""

    key: Path
    id: str = Field(min_length=1)
    max_age_hours: float = Field(168.0, gt=0)

    @field_validator("id")
    @classmethod
    def _is_uri(cls, value: str) -> str:
        return _verifier_uri(value)


class TrustConfig(_Frozen):
    """Who may sign: cosign public keys, keyless identities, and the Sigstore root to trust."""

    keys: tuple[Path, ...] = ()
    keyless: tuple[KeylessIdentity, ...] = ()
    trusted_root: Path | None = None
    require_tlog: bool = True
    verifiers: tuple[SummaryVerifier, ...] = ()

    def key_pems(self) -> tuple[bytes, ...]:
        """The configured public keys as PEM bytes (already checked to parse at load time)."""
        return tuple(path.read_bytes() for path in self.keys)


class AttestConfig(_Frozen):
    """The key that signs verification summaries and the ``verifier.id`` they carry.

    The key is a PEM PKCS#8 private key, encrypted or not; its password comes from the
    environment (``GATE_ATTEST_PASSWORD``), never from the file.
    """

    key: Path | None = None
    verifier_id: str | None = None

    @field_validator("verifier_id")
    @classmethod
    def _is_uri(cls, value: str | None) -> str | None:
        return None if value is None else _verifier_uri(value)

    @model_validator(mode="after")
    def _id_with_key(self) -> "AttestConfig":
        if self.key is not None and self.verifier_id is None:
            raise ValueError("`verifier_id` is required when `key` is set (consumers match it against trust.verifiers[].id)")
        return self


def _verifier_uri(value: str) -> str:
    """A verifier id is the URI a summary's ``verifier.id`` carries (SLSA: a TypeURI)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value):
        raise ValueError(f"{value!r} is not a URI (e.g. https://ci.example/gate)")
    return value


class RegistryConfig(_Frozen):
    """How to reach registries: which may use plain HTTP, and where credentials live."""

    insecure: frozenset[str] = frozenset()
    docker_config: Path | None = None
    credential_helpers: bool = False  # run the docker-credential-* helpers docker_config names (the CLI)
    # Hosts gate may contact (``host[:port]``, or ``*.domain`` for any host under it); None: any.
    allow: frozenset[str] | None = None

    @field_validator("allow")
    @classmethod
    def _hosts(cls, allow: frozenset[str] | None) -> frozenset[str] | None:
        if allow is None:
            return None
        bad = sorted(host for host in allow if not host or "/" in host or "*" in host.removeprefix("*."))
        if bad:
            raise ValueError(f"entries must be host[:port] or *.domain, not {', '.join(map(repr, bad))}")
        return frozenset(host.lower() for host in allow)

    def allows(self, host: str) -> bool:
        """Whether gate may contact ``host`` (``host[:port]``, any case)."""
        if self.allow is None:
            return True
        host = host.lower()
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return host in self.allow or any(entry.startswith("*.") and name.endswith(entry[1:]) for entry in self.allow)


def _yaml_off(value: Any) -> Any:
    """``action: off`` unquoted is YAML 1.1's ``false``: read it as ``off``; ``on``/``true`` means nothing."""
    if value is False:
        return "off"
    if value is True:
        raise ValueError("`on`/`true` is not an action: write deny, warn or off")
    return value


class RuleSettings(BaseModel):
    """Per-rule action plus parameters passed to the Rego as data (e.g. ``max_age_days``); the
    parameters of shipped rules are typed by :data:`RULE_PARAMS` (checked in :func:`from_mapping`)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    action: Annotated[Literal["deny", "warn", "off"] | None, BeforeValidator(_yaml_off)] = None

    def params(self) -> dict[str, Any]:
        """The rule's parameters without the action."""
        return dict(self.model_extra or {})


class _NoParams(_Frozen):
    """A shipped rule that takes no parameter beyond its action."""


class StaleParams(_Frozen):
    """``image.stale``: the largest age in days (0 or more)."""

    max_age_days: StrictInt = Field(default=None, ge=0)  # type: ignore[assignment]  # absent: the Rego default; null: refused


class BuilderAllowParams(_Frozen):
    """``builder.untrusted``: approved base digests (``sha256:…`` or ``name@sha256:…``)."""

    allow: tuple[StrictStr, ...] = None  # type: ignore[assignment]  # absent: the rule is inactive; null: refused

    @field_validator("allow")
    @classmethod
    def _digests(cls, allow: tuple[str, ...]) -> tuple[str, ...]:
        for entry in allow:
            if not re.fullmatch(r"(?:[^@\s]+@)?sha256:[0-9a-f]{64}", entry):
                raise ValueError(f"{entry!r} is not a digest: write sha256:<64 hex> or name@sha256:<64 hex>")
        return allow


class DenyEntryParams(_Frozen):
    """One ``sbom.denied-component.deny`` entry (docs/evidence.md)."""

    purl: StrictStr
    range: StrictStr | None = None
    reason: StrictStr = ""


class DenyListParams(_Frozen):
    """``sbom.denied-component``: the deny list."""

    deny: tuple[DenyEntryParams, ...] = None  # type: ignore[assignment]  # absent: nothing denied; null: refused


RULE_PARAMS: dict[str, type[_Frozen]] = {
    "image.stale": StaleParams,
    "builder.untrusted": BuilderAllowParams,
    "sbom.denied-component": DenyListParams,
}
"""The typed parameters of each shipped rule; a shipped rule not listed takes none."""


class NamespaceSettings(_Frozen):
    """Per-namespace overrides of rule actions and parameters."""

    rules: dict[str, RuleSettings] = Field(default_factory=dict)


class Authority(_Frozen):
    """Who may sign an image policy's images: a cosign public key or a keyless identity, optionally named."""

    name: StrictStr | None = None
    key: Path | None = None
    keyless: KeylessIdentity | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Authority":
        if (self.key is None) == (self.keyless is None):
            raise ValueError("set exactly one of `key` or `keyless`")
        return self

    def label(self) -> str:
        """The name shown in messages: ``name``, else the key file or the keyless identity."""
        if self.name:
            return self.name
        return f"key {self.key}" if self.key is not None else f"keyless {self.keyless.describe() if self.keyless else ''}"


class RequiredAttestation(_Frozen):
    """An attestation an image policy requires, by in-toto predicate type."""

    type: StrictStr = Field(min_length=1)


class ImagePolicy(_Frozen):
    """Trust scoped to images (docs/configuration.md, "Image policies"): which images, in which
    namespaces, who must sign them, which attestations they need and which rule overrides apply."""

    name: StrictStr = Field(min_length=1)
    match: tuple[StrictStr, ...] = Field(min_length=1)
    namespaces: tuple[StrictStr, ...] = ()
    authorities: tuple[Authority, ...]
    threshold: StrictInt | None = None
    attestations: tuple[RequiredAttestation, ...] = ()
    rules: dict[str, RuleSettings] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _globs(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            if (problem := glob_problem(pattern)) is not None:
                raise ValueError(problem)
        return patterns

    @model_validator(mode="after")
    def _threshold_fits(self) -> "ImagePolicy":
        count = len(self.authorities)
        if self.threshold is not None and not (min(count, 1) <= self.threshold <= count):
            raise ValueError(f"threshold {self.threshold} needs between {min(count, 1)} and {count} (the number of authorities)")
        if self.attestations and not self.authorities:
            raise ValueError("`attestations` must be signed by one of the entry's authorities, and `authorities` is empty")
        return self

    @property
    def required(self) -> int:
        """How many distinct authorities must have signed: ``threshold``, default 1 (0 without authorities)."""
        return self.threshold if self.threshold is not None else min(len(self.authorities), 1)

    def authority_id(self, index: int) -> str:
        """A stable id for one authority, unique across the config: the entry name and the index."""
        return f"images.{self.name}.authorities[{index}]"


class Exemption(_Frozen):
    """Skip some rules for some namespaces or images, for a stated reason, until an optional date."""

    reason: str
    rules: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    expires: dt.date | None = None


class Limits(_Frozen):
    """Caps on every read and every wait; all on by default."""

    timeout_seconds: float = Field(10.0, gt=0)
    deadline_seconds: float = Field(8.0, gt=0)
    manifest_bytes: int = Field(4 * MiB, gt=0)
    blob_bytes: int = Field(40 * MiB, gt=0)
    evidence_bytes: int = Field(160 * MiB, gt=0)
    layer_bytes: int = Field(2048 * MiB, gt=0)
    scan_bytes_per_layer: int = Field(4096 * MiB, gt=0)
    scan_bytes_per_image: int = Field(16384 * MiB, gt=0)
    file_bytes: int = Field(8 * MiB, gt=0)
    entries_per_layer: int = Field(500_000, gt=0)
    retries: int = Field(3, ge=0)
    cache_ttl_seconds: float = Field(300.0, ge=0)
    cache_entries: int = Field(10_000, gt=0)
    cache_bytes: int = Field(64 * MiB, gt=0)
    # An evaluation outlives the admission request that started it (the retry finds its verdict);
    # 300 s covers a 4 GiB image scanned at ~15 MB/s, several times slower than one core scans.
    evaluation_seconds: float = Field(300.0, gt=0)
    background_evaluations: int = Field(4, gt=0)  # images gathered and scanned at once; the rest queue
    connections_per_host: int = Field(16, gt=0)  # concurrent requests to one registry host
    images_per_review: int = Field(64, gt=0)  # distinct images one admission request may name
    evaluations_per_review: int = Field(8, gt=0)  # images of one admission request judged at once


class PolicyConfig(_Frozen):
    """Which Rego engine decides, and extra policy directories beside the shipped ones."""

    engine: Literal["embedded", "opa"] = "embedded"
    opa_url: str | None = None
    opa_push: bool = True  # false: the OPA server has the policies and data.gate.params pre-loaded
    dirs: tuple[Path, ...] = ()

    @model_validator(mode="after")
    def _opa_needs_url(self) -> "PolicyConfig":
        if self.engine == "opa" and not self.opa_url:
            raise ValueError("`opa_url` is required when engine is `opa`")
        return self


class ScanConfig(_Frozen):
    """Whether layers are opened (config and history are always read), and where the CLI keeps
    layer scans between runs (``None``: in memory only, as the webhook does)."""

    layers: bool = True
    cache_dir: Path | None = None
    # Processes that scan an image's large layers beside this one: None, one per usable core (CPU
    # affinity capped by the cgroup's CPU quota); 0, none (every layer is scanned in a thread).
    worker_processes: StrictInt | None = Field(None, ge=0)


class AuditConfig(_Frozen):
    """The background audit of ``gate serve`` (docs/audit.md): how often, how gently, and where its Lease lives."""

    enabled: bool = False
    interval: float = Field(3600.0, gt=0)  # seconds; also written as "90s", "30m", "6h"
    images_per_second: float = Field(2.0, gt=0)  # judging rate, so admission keeps the CPU
    exclude_namespaces: tuple[str, ...] = ()
    lease_namespace: str | None = None  # default: the pod's own namespace
    lease_name: str = "gate-audit"
    lease_seconds: float = Field(60.0, gt=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value)
            if match is None:
                raise ValueError(f"{value!r} is not a duration: write seconds (3600) or 90s, 30m, 6h")
            return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
        return value


class CacheConfig(_Frozen):
    """The optional shared (second-level) cache: a Redis or Valkey server all replicas reach.

    The password comes from ``GATE_CACHE_PASSWORD`` (in the chart, a Secret) unless the URL holds one.
    """

    url: str | None = None
    timeout_seconds: float = Field(0.25, gt=0)  # per Redis command: a slow cache must not eat the deadline
    retry_seconds: float = Field(5.0, ge=0)  # after a failure, skip Redis this long instead of timing out again
    layer_ttl_seconds: float = Field(7 * 86400.0, gt=0)  # layer scans are content-addressed: they only age out
    password: SecretStr | None = Field(
        default_factory=lambda: SecretStr(password) if (password := os.environ.get("GATE_CACHE_PASSWORD")) else None
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        """Read the URL as the redis client will, and refuse what it would silently ignore."""
        if url is None:
            return None
        from redis.connection import parse_url as parse_redis_url  # only a configured cache needs redis

        parsed = parse_redis_url(url)  # raises ValueError: wrong scheme, bad port
        if not parsed.get("host") and not parsed.get("path"):
            raise ValueError("names no host (or, for unix://, no socket path)")
        path = urlsplit(url).path
        if "host" in parsed and path not in ("", "/") and not re.fullmatch(r"/\d+", path):
            raise ValueError(f"the path {path!r} must be a database number such as /0")
        return url


class Config(_Frozen):
    """The whole configuration. Build it with :func:`load` or :func:`from_mapping`."""

    trust: TrustConfig = TrustConfig()
    registries: RegistryConfig = RegistryConfig()
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    namespaces: dict[str, NamespaceSettings] = Field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    images: tuple[ImagePolicy, ...] = ()
    limits: Limits = Limits()
    policy: PolicyConfig = PolicyConfig()
    scan: ScanConfig = ScanConfig()
    attest: AttestConfig = AttestConfig()
    audit: AuditConfig = AuditConfig()
    cache: CacheConfig = CacheConfig()
    fail_open: bool = False
    mode: Literal["enforce", "warn", "audit"] = "enforce"  # webhook: deny, or allow with warnings, or annotate only
    mutate: bool = True  # webhook: POST /mutate pins tags to the digest gate judged (docs/webhook.md)
    events_token: SecretStr | None = Field(  # bearer token for POST /registry/events; default: env GATE_EVENTS_TOKEN
        default_factory=lambda: SecretStr(token) if (token := os.environ.get("GATE_EVENTS_TOKEN")) else None
    )

    @field_validator("events_token")
    @classmethod
    def _token_not_blank(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (a shared secret anyone could guess protects nothing)")
        return token

    @field_validator("images")
    @classmethod
    def _unique_names(cls, images: tuple[ImagePolicy, ...]) -> tuple[ImagePolicy, ...]:
        names = [entry.name for entry in images]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"image policy names must be unique (they name the entry in reports); repeated: {', '.join(repeated)}")
        return images

    def rule_params(self) -> dict[str, dict[str, Any]]:
        """Parameters of every configured rule, keyed by rule ID, for the Rego ``data`` document."""
        return {rule_id: settings.params() for rule_id, settings in self.rules.items()}

    def rule_maps(self) -> list[tuple[tuple[str | int, ...], dict[str, RuleSettings]]]:
        """Every ``rules`` mapping with its key path: top level, each namespace, each image policy."""
        maps: list[tuple[tuple[str | int, ...], dict[str, RuleSettings]]] = [(("rules",), self.rules)]
        maps += [(("namespaces", name, "rules"), settings.rules) for name, settings in self.namespaces.items()]
        maps += [(("images", index, "rules"), entry.rules) for index, entry in enumerate(self.images)]
        return maps


def default_cache_dir() -> Path:
    """Where the CLI keeps layer scans when ``scan.cache_dir`` is not set: ``$XDG_CACHE_HOME/gate/layers``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gate" / "layers"


def load(path: str | Path, *, policy_dirs: tuple[Path, ...] = ()) -> Config:
    """Read, validate and freeze a YAML config file.

    ``policy_dirs`` are Rego directories loaded beside ``policy.dirs`` (``--policy``): the rule IDs
    they define are accepted in ``rules``.

    Raises:
        ConfigError: the file cannot be read or parsed, or a field is invalid (named by key path and line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    lines = errors.line_map(text)
    return from_mapping(document, base_dir=path.resolve().parent, source=str(path), lines=lines, policy_dirs=policy_dirs)


def from_mapping(
    document: dict[str, Any],
    *,
    base_dir: Path | None = None,
    source: str = "config",
    lines: dict[tuple[str | int, ...], int] | None = None,
    policy_dirs: tuple[Path, ...] = (),
) -> Config:
    """Validate a config mapping; relative paths are resolved against ``base_dir``.

    Raises:
        ConfigError: a field is invalid; the message names its key path (and line, when ``lines`` is given).
    """
    lines = lines or {}
    try:
        config = Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {'; '.join(errors.problem(error, lines, Config) for error in exc.errors())}") from exc
    config = _resolve_paths(config, base_dir or Path.cwd())
    _check_files(config, source)
    problems = _rule_problems(config, lines, tuple(config.policy.dirs) + tuple(policy_dirs))
    if problems:
        raise ConfigError(f"{source}: {'; '.join(problems)}")
    return config


def _rule_problems(config: Config, lines: dict[tuple[str | int, ...], int], policy_dirs: tuple[Path, ...]) -> list[str]:
    """Unknown rule IDs (shipped or defined by loaded site Rego), mistyped parameters, exemptions naming unknown rules."""
    known = set(RULES) | _site_rule_ids(policy_dirs)
    problems = []
    for path, rules in config.rule_maps():
        for rule_id, settings in rules.items():
            problems += _settings_problems((*path, rule_id), rule_id, settings, known, lines)
    for index, exemption in enumerate(config.exemptions):
        for position, rule_id in enumerate(exemption.rules):
            if rule_id not in known:
                problems.append(_unknown_rule(("exemptions", index, "rules", position), rule_id, known, lines))
    return problems


def _settings_problems(
    path: tuple[str | int, ...], rule_id: str, settings: RuleSettings, known: set[str], lines: dict[tuple[str | int, ...], int]
) -> list[str]:
    if rule_id not in known:
        return [_unknown_rule(path, rule_id, known, lines)]
    params = settings.params()
    if rule_id not in RULES:
        return [f"{errors.where((*path, key), lines)}: null is not a parameter value; remove the key" for key, value in params.items() if value is None]
    model = RULE_PARAMS.get(rule_id, _NoParams)
    try:
        model.model_validate(params)
    except ValidationError as exc:
        return [errors.problem(error, lines, model, path) + _param_hint(error, model) for error in exc.errors()]
    return []


def _param_hint(error: Mapping[str, Any], model: type[_Frozen]) -> str:
    if error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
        return ""
    return "" if model.model_fields else " (this rule takes no parameters, only `action`)"


def _unknown_rule(path: tuple[str | int, ...], rule_id: str, known: set[str], lines: dict[tuple[str | int, ...], int]) -> str:
    close = errors.close_match(rule_id, known)
    hint = f"; did you mean `{close}`?" if close else ""
    return f"{errors.where(path, lines)}: unknown rule ID `{rule_id}`{hint}; known rule IDs: {', '.join(sorted(known))}"


def _site_rule_ids(directories: tuple[Path, ...]) -> set[str]:
    """Rule IDs the Rego in ``directories`` defines (a missing directory is reported by ``_check_files``)."""
    found: set[str] = set()
    for directory in directories:
        for path in sorted(directory.glob("*.rego")) if directory.is_dir() else []:
            try:
                found |= rule_ids_defined(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue  # unreadable: the policy loader refuses it with the reason
    return found


def _resolve_paths(config: Config, base: Path) -> Config:
    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else (base / path)

    trust = config.trust.model_copy(
        update={
            "keys": tuple(absolute(key) for key in config.trust.keys),
            "trusted_root": absolute(config.trust.trusted_root) if config.trust.trusted_root else None,
            "verifiers": tuple(v.model_copy(update={"key": absolute(v.key)}) for v in config.trust.verifiers),
        }
    )
    attest = config.attest.model_copy(update={"key": absolute(config.attest.key) if config.attest.key else None})
    registries = config.registries.model_copy(
        update={"docker_config": absolute(config.registries.docker_config) if config.registries.docker_config else None}
    )
    policy = config.policy.model_copy(update={"dirs": tuple(absolute(d) for d in config.policy.dirs)})
    scan = config.scan.model_copy(update={"cache_dir": absolute(config.scan.cache_dir) if config.scan.cache_dir else None})
    images = tuple(
        entry.model_copy(
            update={"authorities": tuple(a.model_copy(update={"key": absolute(a.key)}) if a.key else a for a in entry.authorities)}
        )
        for entry in config.images
    )
    return config.model_copy(update={"trust": trust, "registries": registries, "policy": policy, "scan": scan, "images": images, "attest": attest})


def check_public_key(key: Path, where: str) -> None:
    """Refuse a trust key that cannot be read or is not a PEM public key; ``where`` names the setting.

    Raises:
        ConfigError: naming ``where`` and the file.
    """
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        load_pem_public_key(key.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {key}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} is not a PEM public key") from exc


def _check_files(config: Config, source: str) -> None:
    keys = [(f"trust.keys[{index}]", key) for index, key in enumerate(config.trust.keys)]
    keys += [
        (f"images[{index}].authorities[{position}].key", authority.key)
        for index, entry in enumerate(config.images)
        for position, authority in enumerate(entry.authorities)
        if authority.key is not None
    ]
    keys += [(f"trust.verifiers[{index}].key", verifier.key) for index, verifier in enumerate(config.trust.verifiers)]
    for field, key in keys:
        check_public_key(key, f"{source}: {field}")
    if config.attest.key is not None:
        load_attest_key(config.attest, f"{source}: attest.key")
    named_files = [("trust.trusted_root", config.trust.trusted_root), ("registries.docker_config", config.registries.docker_config)]
    for field, path in named_files:
        if path is not None and not path.is_file():
            raise ConfigError(f"{source}: {field}: no such file {path}")
    for index, directory in enumerate(config.policy.dirs):
        if not directory.is_dir():
            raise ConfigError(f"{source}: policy.dirs[{index}]: no such directory {directory}")


def load_attest_key(attest: AttestConfig, field: str = "attest.key") -> SigningKey:
    """The summary-signing private key, decrypted with ``GATE_ATTEST_PASSWORD`` when encrypted.

    Raises:
        ConfigError: no key configured, unreadable, not a PEM private key, wrong or missing password.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if attest.key is None:
        raise ConfigError(f"{field}: not set", remedy="set attest.key (and attest.verifier_id) in the config, or pass --attest-key")
    password = os.environ["GATE_ATTEST_PASSWORD"].encode() if os.environ.get("GATE_ATTEST_PASSWORD") else None
    try:
        pem = attest.key.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{field}: cannot read {attest.key}: {exc.strerror or exc}") from exc
    try:
        key = load_pem_private_key(pem, password=password)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        raise ConfigError(f"{field}: {attest.key}: {exc}", remedy="set GATE_ATTEST_PASSWORD to the key's password (only for an encrypted key)") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{field}: {attest.key} is not a PEM PKCS#8 private key, or the password (GATE_ATTEST_PASSWORD) is wrong") from exc
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        raise ConfigError(f"{field}: {attest.key} holds a {type(key).__name__}; use an ECDSA, Ed25519 or RSA key")
    return key
