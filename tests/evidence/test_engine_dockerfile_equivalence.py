"""builder.unpinned on real images whose recorded Dockerfile a naive reader takes differently from
BuildKit: each hostile build is denied, its honest equivalent allowed (the attestations sit in a
BuildKit index on the test registry; builder.unpinned needs no signature)."""

from __future__ import annotations

import pytest

from gate.config import Config
from tests.evidence._statements import material, provenance_v02
from tests.evidence.test_engine_provenance import build, judge, mode_max, rules
from tests.support.reports import only_evidence
from tests.support.registry_server import RegistryServer

NODE = "5" * 64
ALPINE = "3" * 64
NODE_TAG = material("pkg:docker/node@20?platform=linux%2Famd64", NODE)  # pulled by tag
NODE_PINNED = material(f"pkg:docker/node@20?digest=sha256:{NODE}&platform=linux%2Famd64", NODE)
ALPINE_TAG = material("pkg:docker/alpine@3.19?platform=linux%2Famd64", ALPINE)
ALPINE_PINNED = material(f"pkg:docker/alpine@3.19?digest=sha256:{ALPINE}&platform=linux%2Famd64", ALPINE)

HOSTILE = {
    # `FROM node` comes before the stage named node: BuildKit pulls the image node:latest.
    "stage defined later": ("FROM node AS first\nFROM node:20@sha256:" + NODE + " AS node\nCOPY --from=first /a /a\n",
                            [material("pkg:docker/node@latest?platform=linux%2Famd64", NODE), NODE_PINNED]),
    # A pinned decoy stage must not account for the image COPY --from pulled by tag.
    "decoy pinned stage": (f"FROM node:20@sha256:{NODE} AS decoy\nFROM scratch\nCOPY --from=node:20 /usr/local/bin/node /node\n",
                           [NODE_PINNED, NODE_TAG]),
    # `"<<EOF"` is no heredoc for BuildKit, so the FROM after it is a real stage.
    "quoted heredoc marker": (f"FROM alpine:3.19@sha256:{ALPINE}\nRUN echo \"<<EOF\"\nFROM alpine:3.19\nEOF\n", [ALPINE_PINNED, ALPINE_TAG]),
    # BuildKit joins continued pieces as written: this is `FROM alpine:3.19`, not `FROM alpine`.
    "continuation join": ("FROM alpine\\\n:3.19\n", [ALPINE_TAG]),
}
HONEST = {
    "stage defined before": (f"FROM node:20@sha256:{NODE} AS node\nFROM node\nCOPY --from=node /a /a\n", [NODE_PINNED]),
    "pinned COPY --from": (f"FROM node:20@sha256:{NODE} AS decoy\nFROM scratch\nCOPY --from=node:20@sha256:{NODE} /n /n\n", [NODE_PINNED]),
    "real heredoc": (f"FROM alpine:3.19@sha256:{ALPINE}\nRUN <<EOF\nFROM alpine:3.19\nEOF\n", [ALPINE_PINNED]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_dockerfiles_are_denied(case: str, registry: RegistryServer, gate_config: Config, repo: str) -> None:
    dockerfile, materials = HOSTILE[case]
    result = judge(gate_config, build(registry, repo, mode_max(dockerfile, materials)))
    assert "builder.unpinned" in rules(result), case
    assert result.decision == "deny"


@pytest.mark.parametrize("case", sorted(HONEST))
def test_honest_dockerfiles_are_not_flagged(case: str, registry: RegistryServer, gate_config: Config, repo: str) -> None:
    dockerfile, materials = HONEST[case]
    result = judge(gate_config, build(registry, repo, mode_max(dockerfile, materials)))
    assert "builder.unpinned" not in rules(result), case
    assert only_evidence(result)["provenance"]["stages"], "the Dockerfile was read"


def test_a_cleaner_second_statement_never_masks_the_first(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    def clean(digest: str) -> dict:
        return provenance_v02(digest, [ALPINE_PINNED], dockerfile=f"FROM alpine:3.19@sha256:{ALPINE}\n")

    def floating(digest: str) -> dict:
        return provenance_v02(digest, [ALPINE_TAG], dockerfile="FROM alpine:3.19\n")

    both = judge(gate_config, build(registry, repo, lambda digest: [clean(digest), floating(digest)]))
    assert "builder.unpinned" in rules(both)
    clean_only = judge(gate_config, build(registry, f"{repo}-clean", lambda digest: [clean(digest)]))
    assert "builder.unpinned" not in rules(clean_only)
