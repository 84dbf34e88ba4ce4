"""The warm path: cached verdicts taken without an evaluation, answers reused per set of verdicts,
their JSON byte for byte what a fresh encoding gives."""

from __future__ import annotations

import asyncio
import json

from gate.admission._answer import Judged, RememberedAnswers, judge
from gate.admission._review import review_response
from gate.admission._workloads import ImageUse
from gate.config import Config
from gate.engine import Engine, WorkloadContext
from gate.report import ImageResult, Violation
from tests.admission.reviews import containers, review
from tests.admission.test_webhook import PASSWD, RELAXED_RULES
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.registry_server import RegistryServer

DIGEST = "sha256:" + "b" * 64
UNSIGNED = Violation("signature.missing", "deny", "no signature verifies against the configured keys")
STALE = Violation("image.stale", "warn", "image built 200 days ago (max 90)")


def verdict(image: str, *violations: Violation) -> ImageResult:
    return ImageResult(image, DIGEST, violations)


def judged(result: ImageResult, where: str = 'spec.containers[0] "app"') -> Judged:
    return Judged((ImageUse(result.reference, where),), result)


def test_the_same_verdicts_get_the_same_answer_and_new_ones_a_fresh_one() -> None:
    answers = RememberedAnswers()
    first, second = verdict("reg/a:1", UNSIGNED, STALE), verdict("reg/b:1", STALE)
    answer = answers.judge([judged(first), judged(second)], "enforce", "uid-1")
    assert answers.judge([judged(first), judged(second)], "enforce", "uid-2") is answer
    assert answer == judge([judged(first), judged(second)], "enforce", "uid-2")
    renewed = verdict("reg/a:1", STALE)  # the verdict expired and the image was judged again
    fresh = answers.judge([judged(renewed), judged(second)], "enforce", "uid-3")
    assert fresh is not answer and fresh.allowed and fresh == judge([judged(renewed), judged(second)], "enforce")
    assert answers.judge([judged(first), judged(second)], "warn", "uid-4").decision == "warn:deny", "the mode is part of the key"
    elsewhere = answers.judge([judged(first, "init"), judged(second)], "enforce", "uid-5")
    assert "(init)" in (elsewhere.message or ""), "the places are part of the key"


def test_an_answer_whose_cut_warnings_name_the_review_is_not_reused() -> None:
    many = [Violation(f"rule.{n}", "warn", f"finding number {n} " + "x" * 200) for n in range(40)]
    answers, result = RememberedAnswers(), verdict("reg/a:1", *many)
    first = answers.judge([judged(result)], "enforce", "uid-first")
    second = answers.judge([judged(result)], "enforce", "uid-second")
    assert "uid-first" in first.warnings[-1] and "uid-second" in second.warnings[-1]


def test_an_answer_encodes_as_the_whole_document_would() -> None:
    result = verdict("reg/a:1", UNSIGNED, Violation("image.stale", "warn", 'quoted "text" \\ and ünïcode\n'))
    for mode in ("enforce", "warn", "audit"):
        answer = judge([judged(result)], mode)
        for uid in ("705ab4f5-6393-11e8-b7cc-42010a800002", 'odd "uid" é'):
            body = answer.to_bytes(uid)
            assert body == review_response(
                uid, allowed=answer.allowed, message=answer.message, code=answer.code, warnings=answer.warnings,
                annotations=answer.annotations,
            )
            document = json.loads(body)
            assert body == json.dumps(document, separators=(",", ":")).encode()
            assert document["response"]["uid"] == uid and document["response"]["allowed"] is answer.allowed


def test_a_cached_verdict_is_the_one_check_gave(registry: RegistryServer) -> None:
    ImageBuilder().layer({"etc/passwd": PASSWD, "app/warm": "warm"}).config(user="1000").push(registry, "admission/warm:1")
    reference = f"{registry.host}/admission/warm:1"
    context = WorkloadContext(namespace="shop", from_workload=True)
    config: Config = config_for(registry, rules=RELAXED_RULES)

    async def main() -> None:
        async with Engine(config) as engine:
            assert engine.cached_verdict(reference, context) is None, "nothing judged yet"
            result = await engine.check(reference, context)
            assert result.evaluated and engine.cached_verdict(reference, context) is result
            assert engine.cached_verdict(reference, WorkloadContext(namespace="other", from_workload=True)) is None
            assert engine.cached_verdict(reference, context, platform="linux/arm64") is None
            assert engine.cached_verdict("not a reference!", context) is None
            stats = engine.stats()["caches"]["verdicts"]
            assert (stats.hits, stats.misses) == (1, 1), "a look-up that finds nothing is not counted twice"

    asyncio.run(main())


def test_a_warm_review_answers_as_the_cold_one_did(registry: RegistryServer) -> None:
    from gate.admission import create_app
    from gate.admission._review import parse_review

    ImageBuilder().layer({"etc/passwd": PASSWD, "app/twice": "twice"}).config(user="").push(registry, "admission/twice:1")
    image = f"{registry.host}/admission/twice:1"
    app = create_app(config_for(registry, rules=RELAXED_RULES))
    reviewer = app.state.gate.reviewer

    async def main() -> tuple[bytes, bytes]:
        async with app.router.lifespan_context(app):
            cold = await reviewer.review(parse_review(json.dumps(review("Deployment", containers(image, image))).encode()), 1e12)
            warm = await reviewer.review(parse_review(json.dumps(review("Deployment", containers(image, image))).encode()), 1e12)
            return cold.to_bytes("u"), warm.to_bytes("u")

    cold, warm = asyncio.run(main())
    assert cold == warm and json.loads(cold)["response"]["allowed"] is False
