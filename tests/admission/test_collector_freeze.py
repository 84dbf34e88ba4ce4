"""`gate serve` keeps what the first evaluation imports lazily out of the collector's reach, once."""

from __future__ import annotations

import gc
from pathlib import Path

import trustme

from gate.admission import create_app
from gate.admission._server import freeze_what_evaluating_loaded
from tests.admission.reviews import containers, review
from tests.admission.test_webhook import PASSWD, RELAXED_RULES, answer
from tests.admission.webhook_server import start_webhook
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer


def test_the_first_evaluation_is_followed_by_one_freeze(registry: RegistryServer, ca: trustme.CA, tmp_path: Path) -> None:
    references = []
    for name in ("first", "second"):
        ImageBuilder().layer({"etc/passwd": PASSWD, f"app/{name}": name}).config(user="1000").push(registry, f"freeze/{name}:1")
        references.append(f"{registry.host}/freeze/{name}:1")
    config = config_for(registry, rules=RELAXED_RULES)
    frozen = gc.get_freeze_count()
    server = start_webhook(create_app(config, after_first_evaluation=freeze_what_evaluating_loaded), config, ca, tmp_path)
    try:
        assert gc.get_freeze_count() == frozen, "nothing is frozen before an evaluation ran"
        sent = review("Pod", containers(references[0]))
        assert answer(server.review(sent), sent)["allowed"]
        assert answer(server.review(sent), sent)["allowed"], "the warm review of the same image"
        after_first = gc.get_freeze_count()
        assert after_first > frozen, "what the first evaluation left in the collector's generations is frozen"
        sent = review("Pod", containers(references[1]))
        assert answer(server.review(sent), sent)["allowed"]
        # Frozen objects freed since leave the count; a second freeze would add this evaluation's.
        assert gc.get_freeze_count() <= after_first, "later evaluations freeze nothing more"
    finally:
        server.stop()
        gc.unfreeze()
