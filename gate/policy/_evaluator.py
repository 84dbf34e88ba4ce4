"""Load the policies once, evaluate an input document, return raw violations by rule ID."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gate.config import Config
from gate.errors import PolicyError
from gate.policy._decide import check_exemptions
from gate.policy._embedded import EmbeddedBackend
from gate.policy._raw import RawViolation
from gate.policy._sources import SHIPPED_POLICY_DIR, Module, context_keys_read, large_facts_read, load_modules, policy_digest
from gate.rules import RULES, rule_ids_defined

if TYPE_CHECKING:
    from gate.policy._lint import Finding


class Backend(Protocol):
    """One seam per engine: evaluate ``data.gate.violations`` for an input document."""

    def evaluate(self, input_doc: dict[str, Any]) -> Any: ...

    def close(self) -> None: ...


class PolicyEvaluator:
    """The loaded policy library: modules, rule parameters and the engine that runs them.

    Attributes:
        digest: ``sha256:…`` over module names, texts and the ``data`` document (rule parameters,
            and the namespace and image-policy settings); part of the verdict cache key.
        reads_context: the ``input.context`` keys the policies read (see
            ``_sources.context_keys_read`` for how this is found and its limit).
        reads_large: the large facts (``sbom.component_list``, ``attestations``) the policies
            read; the others are left empty in the input (``_sources.LARGE_FACTS``).
        modules: the loaded Rego modules, in load order.
    """

    def __init__(self, modules: tuple[Module, ...], data: dict[str, Any], backend: Backend, *, all_modules_known: bool = True):
        self.modules = modules
        self.data = data
        # Every rule ID a violation can carry: the catalogue's and those the loaded modules name;
        # None when an OPA server holds policies gate never saw (``policy.opa_push: false``).
        self.rule_ids: frozenset[str] | None = (
            frozenset(RULES).union(*(rule_ids_defined(module.source) for module in modules)) if all_modules_known else None
        )
        self.digest = policy_digest(modules, data)
        self.reads_context = context_keys_read(modules)
        self.reads_large = large_facts_read(modules)
        self._backend = backend

    @classmethod
    def from_config(cls, config: Config, *, extra_dirs: tuple[Path, ...] = ()) -> "PolicyEvaluator":
        """Shipped policies, then ``config.policy.dirs``, then ``extra_dirs`` (e.g. ``--policy``).

        The engine is embedded regopy unless ``config.policy.engine`` is ``opa``. The digest is
        always computed from the local modules, also when OPA has them pre-loaded
        (``policy.opa_push: false``): keep both copies the same.

        Raises:
            PolicyError: a directory has no Rego, a module does not compile, a site module has a
                mistake that would make its rules silently never fire (named by file:line), or OPA refuses it.
            ConfigError: an exemption names no rule.
        """
        check_exemptions(config)
        site_dirs = tuple(d for d in dict.fromkeys((*config.policy.dirs, *extra_dirs)) if d.resolve() != SHIPPED_POLICY_DIR)
        shipped, site = load_modules((SHIPPED_POLICY_DIR,)), load_modules(site_dirs) if site_dirs else ()
        modules = shipped + site
        findings = _lint(site, modules, check_calls=config.policy.engine == "embedded")
        if findings:
            raise PolicyError(
                "site policies would silently never fire:\n  " + "\n  ".join(str(finding) for finding in findings),
                remedy="fix the Rego at the places named above (docs/policies.md shows what gate expects)",
            )
        # `scoped`: the namespace and image-policy settings, so the digest changes with them too.
        scoped = {
            "namespaces": {name: {rule: settings.model_dump(mode="json") for rule, settings in ns.rules.items()} for name, ns in config.namespaces.items()},
            "images": [entry.model_dump(mode="json") for entry in config.images],
        }
        data = {"gate": {"params": config.rule_params(), "scoped": scoped}}
        if config.policy.engine == "opa":
            from gate.policy._opa import OpaBackend  # only OPA deployments need requests

            policy = config.policy
            backend: Backend = OpaBackend(policy.opa_url or "", modules, data, timeout=config.limits.timeout_seconds, push=policy.opa_push)
        else:
            backend = EmbeddedBackend(modules, data, cache_dir=config.scan.cache_dir)
        return cls(modules, data, backend, all_modules_known=config.policy.engine == "embedded" or config.policy.opa_push)

    def evaluate(self, input_doc: dict[str, Any]) -> list[RawViolation]:
        """Run the policies over one input document; thread-safe.

        Raises:
            PolicyError: evaluation failed or the policies returned something that is not a list
                of ``{rule, message, details}`` objects.
        """
        value = self._backend.evaluate(input_doc)
        if not isinstance(value, list):
            raise PolicyError(
                "policies did not produce `data.gate.violations` as a list",
                remedy="keep policies/gate.rego loaded; custom rules add to `violations` in `package gate.rules.<name>`",
            )
        return sorted((_parse(item) for item in value), key=lambda v: (v.rule, v.message))

    def close(self) -> None:
        """Release the engine (the OPA client's connection pool)."""
        self._backend.close()


def _lint(site: tuple[Module, ...], modules: tuple[Module, ...], *, check_calls: bool) -> list[Finding]:
    """The site modules' authoring mistakes (none without site modules: the linter is not even imported)."""
    if not site:
        return []
    from gate.policy._lint import lint_modules

    return lint_modules(site, modules, check_calls=check_calls)


def _parse(item: Any) -> RawViolation:
    if not isinstance(item, dict) or not isinstance(item.get("rule"), str) or not isinstance(item.get("message"), str):
        raise PolicyError(f"a policy produced a violation without string `rule` and `message`: {str(item)[:300]}")
    details = item.get("details", {})
    action = item.get("action")
    if not isinstance(details, dict) or action not in (None, "deny", "warn"):
        raise PolicyError(f"violation {item['rule']}: `details` must be an object and `action` deny or warn")
    return RawViolation(rule=item["rule"], message=item["message"], details=details, default_action=action)
