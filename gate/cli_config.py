"""The configuration one CLI run uses: the ``--config`` file (or the defaults) with its flags on top.

The trust flags spell and behave as cosign's: ``--key`` (repeatable) and one keyless authority
from ``--certificate-identity[-regexp]`` plus ``--certificate-oidc-issuer[-regexp]`` (cosign
refuses one without the other). Each adds to ``trust.keys`` / ``trust.keyless``, the trust for
images no image policy names; with no ``--config`` they are the whole trust. cosign's regexps are
Go ``MatchString`` searches, not anchored: ``--certificate-identity-regexp 'example\\.com$'`` matches
any subject ending so, which is kept here by wrapping the pattern for gate's full-match regexes.

The CLI also reads the user's docker config as docker, crane and cosign do
(``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``), running its credential helpers.
The flags are declared without importing the configuration model (pydantic), so ``--help`` and
argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gate.errors import ConfigError

if TYPE_CHECKING:
    from gate import config as config_module
    from gate.config import Config, KeylessIdentity


def add_trust_flags(parser: argparse.ArgumentParser) -> None:
    """The cosign-style trust flags."""
    trust = parser.add_argument_group("trust for this run (as cosign's flags; added to the config's trust)")
    trust.add_argument("--key", type=Path, action="append", default=[], metavar="FILE", help="a cosign public key (PEM); repeatable")
    identity = trust.add_mutually_exclusive_group()
    identity.add_argument("--certificate-identity", metavar="ID", help="keyless: the exact certificate identity (SAN)")
    identity.add_argument("--certificate-identity-regexp", metavar="RE", help="keyless: a regexp the identity must match (searched, as cosign)")
    issuer = trust.add_mutually_exclusive_group()
    issuer.add_argument("--certificate-oidc-issuer", metavar="URL", help="keyless: the exact OIDC issuer")
    issuer.add_argument("--certificate-oidc-issuer-regexp", metavar="RE", help="keyless: a regexp the issuer must match (searched, as cosign)")
    trust.add_argument("--trusted-root", type=Path, metavar="FILE", help="a Sigstore trusted_root.json (private Sigstore, air gap)")


def add_registry_flags(parser: argparse.ArgumentParser) -> None:
    """How this run reaches registries."""
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                        help="reach this host[:port] over plain HTTP (repeatable; local testing only)")


def check_config(args: argparse.Namespace) -> Config:
    """The config file with every command-line override applied.

    Raises:
        ConfigError: the file, a policy directory, a key or a keyless flag is wrong (named).
    """
    from gate import config as config_module

    extra_dirs = tuple(directory.resolve() for directory in getattr(args, "policy", []))
    for directory in extra_dirs:
        if not directory.is_dir():
            raise ConfigError(f"--policy: no such directory {directory}")
    # The rule IDs the --policy directories define may be configured in the file.
    config = config_module.load(args.config, policy_dirs=extra_dirs) if args.config is not None else config_module.from_mapping({})
    return config.model_copy(
        update={
            "trust": _trust(config, args),
            "registries": _registries(config, args),
            "policy": config.policy.model_copy(update={"dirs": config.policy.dirs + extra_dirs}),
            "scan": config.scan.model_copy(
                update={
                    "layers": config.scan.layers and not getattr(args, "no_layer_scan", False),
                    "cache_dir": config.scan.cache_dir or config_module.default_cache_dir(),
                }
            ),
        }
    )


def attest_config(config: Config, args: argparse.Namespace) -> Config:
    """With ``--attest``: the key from ``--attest-key`` (checked now), and no ``trust.verifiers``,
    since a gate that vouches for an image must have looked at it itself.

    Raises:
        ConfigError: ``--attest-key`` without ``--attest``, or no usable signing key.
    """
    from gate import config as config_module

    if args.attest_key is not None and not args.attest:
        raise ConfigError("--attest-key is only used with --attest")
    if not args.attest:
        return config
    if args.attest_key is not None:
        if config.attest.verifier_id is None:
            raise ConfigError("--attest-key: attest.verifier_id must be set in the config (the id consumers list in trust.verifiers)")
        attest = config.attest.model_copy(update={"key": args.attest_key.resolve()})
        config_module.load_attest_key(attest, "--attest-key")
        config = config.model_copy(update={"attest": attest})
    if config.attest.key is None:
        raise ConfigError("--attest needs a signing key: set attest.key and attest.verifier_id in the config, or pass --attest-key")
    return config.model_copy(update={"trust": config.trust.model_copy(update={"verifiers": ()})})


def default_docker_config() -> Path | None:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``, when the file exists."""
    directory = os.environ.get("DOCKER_CONFIG")
    path = Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"
    return path if path.is_file() else None


def _trust(config: Config, args: argparse.Namespace) -> config_module.TrustConfig:
    from gate import config as config_module

    keys = tuple(key.resolve() for key in getattr(args, "key", []))
    for key in keys:
        config_module.check_public_key(key, "--key")
    keyless = _keyless(args)
    root = getattr(args, "trusted_root", None)
    if root is not None and not root.is_file():
        raise ConfigError(f"--trusted-root: no such file {root}")
    trust = config.trust
    return trust.model_copy(
        update={
            "keys": trust.keys + keys,
            "keyless": trust.keyless + keyless,
            "trusted_root": root.resolve() if root is not None else trust.trusted_root,
        }
    )


def _keyless(args: argparse.Namespace) -> tuple[KeylessIdentity, ...]:
    """The keyless authority the certificate flags name, if any (cosign: both halves or neither)."""
    from pydantic import ValidationError

    from gate.config import KeylessIdentity

    subject, subject_re = getattr(args, "certificate_identity", None), getattr(args, "certificate_identity_regexp", None)
    issuer, issuer_re = getattr(args, "certificate_oidc_issuer", None), getattr(args, "certificate_oidc_issuer_regexp", None)
    if subject is None and subject_re is None and issuer is None and issuer_re is None:
        return ()
    if subject is None and subject_re is None:
        raise ConfigError("--certificate-identity or --certificate-identity-regexp is required for keyless verification")
    if issuer is None and issuer_re is None:
        raise ConfigError("--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for keyless verification")
    try:
        return (
            KeylessIdentity(
                issuer=issuer,
                issuer_regex=_searching(issuer_re),
                subject=subject,
                subject_regex=_searching(subject_re),
            ),
        )
    except ValidationError as exc:
        raise ConfigError(f"--certificate-*-regexp: {exc.errors()[0]['msg']}") from exc


def _searching(pattern: str | None) -> str | None:
    """A full-match regex that accepts what Go's unanchored ``MatchString(pattern)`` accepts."""
    return None if pattern is None else f"(?s:.*)(?:{pattern})(?s:.*)"


def _registries(config: Config, args: argparse.Namespace) -> config_module.RegistryConfig:
    registries = config.registries
    docker_config = registries.docker_config or default_docker_config()
    return registries.model_copy(
        update={
            "insecure": registries.insecure | frozenset(getattr(args, "insecure_registry", [])),
            "docker_config": docker_config,
            "credential_helpers": True,
        }
    )
