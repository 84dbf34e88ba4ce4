"""The one typed, frozen configuration object, loaded and checked once at start-up.

The YAML schema is docs/configuration.md; pydantic does the validation so every error names its field path
(``trust.keyless[0].subject_regex: ...``). Paths in the file are relative to the file. Only this
module reads settings; everything else receives the ``Config`` it is given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from gate.errors import ConfigError
from gate.rules import RULES

MiB = 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeylessIdentity(_Frozen):
    """A Fulcio-certificate identity: an exact OIDC issuer or an issuer regex, plus an exact subject
    or a subject regex. Regexes must match the whole value (Python ``re.fullmatch``)."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None

    @field_validator("subject_regex", "issuer_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _one_subject(self) -> "KeylessIdentity":
        if (self.subject is None) == (self.subject_regex is None):
            raise ValueError("set exactly one of `subject` or `subject_regex`")
        if (self.issuer is None) == (self.issuer_regex is None):
            raise ValueError("set exactly one of `issuer` or `issuer_regex`")
        return self

    def matches(self, issuer: str, subject: str) -> bool:
        """True when a certificate's issuer and subject satisfy this identity (regex: full match)."""
        return _matches(self.issuer, self.issuer_regex, issuer) and _matches(self.subject, self.subject_regex, subject)


def _matches(exact: str | None, pattern: str | None, value: str) -> bool:
    if exact is not None:
        return value == exact
    return re.fullmatch(pattern or "", value) is not None


class TrustConfig(_Frozen):
    """Who may sign: cosign public keys, keyless identities, and the Sigstore root to trust."""

    keys: tuple[Path, ...] = ()
    keyless: tuple[KeylessIdentity, ...] = ()
    trusted_root: Path | None = None
    require_tlog: bool = True

    def key_pems(self) -> tuple[bytes, ...]:
        """The configured public keys as PEM bytes (already checked to parse at load time)."""
        return tuple(path.read_bytes() for path in self.keys)


class RegistryConfig(_Frozen):
    """How to reach registries: which may use plain HTTP, and where credentials live."""

    insecure: frozenset[str] = frozenset()
    docker_config: Path | None = None
    credential_helpers: bool = False  # run the docker-credential-* helpers docker_config names (the CLI)


class RuleSettings(BaseModel):
    """Per-rule action plus free-form parameters passed to the Rego as data (e.g. ``max_age_days``)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    action: Literal["deny", "warn", "off"] | None = None

    def params(self) -> dict[str, Any]:
        """The rule's parameters without the action."""
        return dict(self.model_extra or {})


class NamespaceSettings(_Frozen):
    """Per-namespace overrides of rule actions."""

    rules: dict[str, RuleSettings] = Field(default_factory=dict)


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


class Config(_Frozen):
    """The whole configuration. Build it with :func:`load` or :func:`from_mapping`."""

    trust: TrustConfig = TrustConfig()
    registries: RegistryConfig = RegistryConfig()
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    namespaces: dict[str, NamespaceSettings] = Field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    limits: Limits = Limits()
    policy: PolicyConfig = PolicyConfig()
    scan: ScanConfig = ScanConfig()
    audit: AuditConfig = AuditConfig()
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

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        _check_rule_ids(rules)
        return rules

    @field_validator("namespaces")
    @classmethod
    def _known_namespace_rules(cls, namespaces: dict[str, NamespaceSettings]) -> dict[str, NamespaceSettings]:
        for settings in namespaces.values():
            _check_rule_ids(settings.rules)
        return namespaces

    def rule_params(self) -> dict[str, dict[str, Any]]:
        """Parameters of every configured rule, keyed by rule ID, for the Rego ``data`` document."""
        return {rule_id: settings.params() for rule_id, settings in self.rules.items()}


def _check_rule_ids(rules: dict[str, Any]) -> None:
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"unknown rule ID(s) {', '.join(unknown)}; known: {', '.join(sorted(RULES))}")


def default_cache_dir() -> Path:
    """Where the CLI keeps layer scans when ``scan.cache_dir`` is not set: ``$XDG_CACHE_HOME/gate/layers``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gate" / "layers"


def load(path: str | Path) -> Config:
    """Read, validate and freeze a YAML config file.

    Raises:
        ConfigError: the file cannot be read or parsed, or a field is invalid (named by path).
    """
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return from_mapping(document, base_dir=path.resolve().parent, source=str(path))


def from_mapping(document: dict[str, Any], *, base_dir: Path | None = None, source: str = "config") -> Config:
    """Validate a config mapping; relative paths are resolved against ``base_dir``.

    Raises:
        ConfigError: a field is invalid; the message names its path.
    """
    try:
        config = Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from exc
    config = _resolve_paths(config, base_dir or Path.cwd())
    _check_files(config, source)
    return config


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
        problems.append(f"{location or '(top level)'}: {error['msg']}")
    return "; ".join(problems)


def _resolve_paths(config: Config, base: Path) -> Config:
    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else (base / path)

    trust = config.trust.model_copy(
        update={
            "keys": tuple(absolute(key) for key in config.trust.keys),
            "trusted_root": absolute(config.trust.trusted_root) if config.trust.trusted_root else None,
        }
    )
    registries = config.registries.model_copy(
        update={"docker_config": absolute(config.registries.docker_config) if config.registries.docker_config else None}
    )
    policy = config.policy.model_copy(update={"dirs": tuple(absolute(d) for d in config.policy.dirs)})
    scan = config.scan.model_copy(update={"cache_dir": absolute(config.scan.cache_dir) if config.scan.cache_dir else None})
    return config.model_copy(update={"trust": trust, "registries": registries, "policy": policy, "scan": scan})


def check_public_key(key: Path, where: str) -> None:
    """Refuse a trust key that cannot be read or is not a PEM public key; ``where`` names the setting.

    Raises:
        ConfigError: naming ``where`` and the file.
    """
    try:
        load_pem_public_key(key.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {key}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: {key} is not a PEM public key") from exc


def _check_files(config: Config, source: str) -> None:
    for index, key in enumerate(config.trust.keys):
        check_public_key(key, f"{source}: trust.keys[{index}]")
    named_files = [("trust.trusted_root", config.trust.trusted_root), ("registries.docker_config", config.registries.docker_config)]
    for field, path in named_files:
        if path is not None and not path.is_file():
            raise ConfigError(f"{source}: {field}: no such file {path}")
    for index, directory in enumerate(config.policy.dirs):
        if not directory.is_dir():
            raise ConfigError(f"{source}: policy.dirs[{index}]: no such directory {directory}")
