"""Namespace-scoped image policies in the webhook: an entry with ``namespaces`` applies only to
workloads in those namespaces, and the verdict cache never hands one namespace's verdict to another.

Real TLS, the real Engine, images in the real registry, signed with plain keys and the test double
of a Sigstore instance (``SigstoreInstanceDouble``) whose Rekor log the config trusts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from gate.config import from_mapping
from tests.admission.reviews import containers, review
from tests.admission.test_webhook import Start, answer, start  # noqa: F401 - `start` is a fixture
from tests.support.artifacts import push_cosign_tag, push_sigstore_bundle
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer
from tests.support.sigstore_double import Keyed, SigstoreInstanceDouble, pem_public, simple_signing, statement
from tests.test_end_to_end import _pushable

QUIET = {"provenance.missing": {"action": "off"}, "provenance.unverified": {"action": "off"}, "sbom.missing": {"action": "off"}}


def test_namespace_scoped_entries_apply_only_in_their_namespaces(start: Start, registry: RegistryServer, tmp_path: Path, repo: str) -> None:  # noqa: F811
    double = SigstoreInstanceDouble()
    acme_key, payments_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "acme.pub").write_bytes(pem_public(acme_key))
    (tmp_path / "payments.pub").write_bytes(pem_public(payments_key))
    (tmp_path / "trusted_root.json").write_bytes(double.trusted_root_json())
    image = ImageBuilder().layer({"app/server": "ok"}).config(user="1000").push(registry, f"acme/{repo.split('/', 1)[1]}:1")
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    layer = double.sign_legacy(simple_signing(image.digest, f"{image.host}/{image.repository}"), Keyed(acme_key), at)
    push_cosign_tag(registry, image, ".sig", [_pushable(layer)])
    config = from_mapping(
        {
            "trust": {"trusted_root": "trusted_root.json"},
            "registries": {"insecure": [registry.host]},
            "rules": QUIET,
            "images": [
                {"name": "acme", "match": [f"{registry.host}/acme/**"], "authorities": [{"name": "acme-release", "key": "acme.pub"}]},
                {"name": "payments-only", "match": [f"{registry.host}/acme/**"], "namespaces": ["payments"], "authorities": [{"name": "payments-release", "key": "payments.pub"}]},
            ],
        },
        base_dir=tmp_path,
    )
    server = start(config)
    reference = f"{image.host}/{image.repository}:1"

    shop = review("Deployment", containers(reference), namespace="shop")
    assert answer(server.review(shop), shop)["allowed"] is True  # cached for shop first
    payments = review("Deployment", containers(reference), namespace="payments")
    denied = answer(server.review(payments), payments)
    assert denied["allowed"] is False
    assert "image policy `payments-only` needs 1 of its authorities (payments-release)" in denied["status"]["message"]

    shop_again = review("Deployment", containers(reference), namespace="shop")
    assert answer(server.review(shop_again), shop_again)["allowed"] is True

    # A server that has seen nothing yet, once the payments key signed too: both namespaces admit.
    push_sigstore_bundle(registry, image, double.bundle(statement(image.digest), Keyed(payments_key), at))
    fresh = start(config)
    assert answer(fresh.review(payments), payments)["allowed"] is True
