"""Layers scanned in worker processes (gate.scan._workers) read and refuse exactly as in a thread,
stop early on a refusal, survive a failing source or a dying worker, and serve only images with
several large layers."""

from __future__ import annotations

import asyncio
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.config import Config, Limits
from gate.engine import Engine
from gate.errors import EvidenceError, GateError, LimitExceeded, RegistryError
from gate.scan import ImageBudget, LayerScan, LayerScanner, LayerWorkers, process_layers
from gate.scan._cores import usable_cores
from gate.scan._workers import _POOL, PROCESS_MIN_BYTES, START_MIN_BYTES, worker_limit
from tests.scan._scan import chunked
from tests.scan._tokens import GITHUB, NPM
from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.gate_config import config_for
from tests.support.images import ImageBuilder
from tests.support.layers import Dir, File, Hardlink, Opaque, Raw, Symlink, compress, tar_bytes
from tests.support.registry_server import RegistryServer

DIGEST = "sha256:" + "e" * 64
MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:10001:10001::/app:/bin/sh\n"
FILES = {
    "etc/": Dir(), "etc/passwd": PASSWD, "app/": Dir(), "app/main.py": "print(1)\n" * 500,
    "app/config.yaml": f"github_token: {GITHUB}\n", "root/.npmrc": f"//registry.npmjs.org/:_authToken={NPM}\n",
    "app/copy.yaml": Hardlink("app/config.yaml"), "app/link": Symlink("/etc/passwd"),
    "usr/lib/libx.so": File(b"\x7fELF\0\0" + os.urandom(4096) + GITHUB.encode() + b"\0"),
    "app/.git/HEAD": "ref: refs/heads/main\n", "usr/bin/gcc-12": b"\x7fELF\0",
    **{f"app/pkg/m{i}.py": f"value = {i}\n" * 40 for i in range(300)},
}


def _thread(blob: bytes, limits: Limits, **kwargs: object) -> LayerScan:
    return LayerScanner(limits).scan(chunked(blob), MEDIA_TYPE, 2, DIGEST, **kwargs)  # type: ignore[arg-type]


def _worker(blob: bytes, limits: Limits, **kwargs: object) -> LayerScan:
    scan = LayerWorkers(limits).scan(chunked(blob), MEDIA_TYPE, 2, DIGEST, **kwargs)  # type: ignore[arg-type]
    assert scan is not None, "no worker process was free"
    return scan


def _outcome(scan: object, blob: bytes, limits: Limits) -> object:
    try:
        return scan(blob, limits)  # type: ignore[operator]
    except GateError as exc:
        return type(exc), exc.message, exc.remedy, exc.details


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_a_worker_reads_a_layer_as_a_thread_does(compression: str) -> None:
    blob = compress(tar_bytes(FILES, whiteouts=["old/secret.env", Opaque("var/cache")]), compression)  # type: ignore[arg-type]
    scanned = _worker(blob, Limits())
    assert scanned == _thread(blob, Limits())
    assert {hit.path for hit in scanned.hits if hit.kind == "secret"} >= {"app/config.yaml", "root/.npmrc", "app/copy.yaml", "usr/lib/libx.so"}
    assert scanned.passwd == PASSWD and scanned.opaque_dirs == ("var/cache",)


def _traversal() -> bytes:
    info = tarfile.TarInfo("../etc/passwd")
    info.size = 1
    return compress(tar_bytes({"../etc/passwd": Raw(info, b"x")}), "gzip")


HOSTILE = {
    "traversal": (_traversal(), Limits()),
    "corrupt gzip": (b"\x1f\x8b\x08\x00" + os.urandom(4000), Limits()),
    "truncated": (compress(tar_bytes(FILES), "gzip")[:-300], Limits()),
    "not a tar": (compress(b"hello " * 1000, "gzip"), Limits()),
    "after the end": (compress(tar_bytes({"a": "x"}) + b"\1" * 1024, "gzip"), Limits()),
    "bomb": (compress(bytes(96 * 1024 * 1024), "gzip"), Limits()),
    "entries": (compress(tar_bytes(FILES), "gzip"), Limits(entries_per_layer=10)),
    "layer cap": (compress(tar_bytes(FILES), "gzip"), Limits(scan_bytes_per_layer=64 * 1024)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_worker_refuses_what_a_thread_refuses(name: str) -> None:
    blob, limits = HOSTILE[name]
    refused = _outcome(_worker, blob, limits)
    assert isinstance(refused, tuple) and refused[0] in (EvidenceError, LimitExceeded)
    assert refused == _outcome(_thread, blob, limits)


def test_the_image_budget_counts_the_layers_scanned_in_workers() -> None:
    blob = compress(tar_bytes({"a": "x" * 40_000}), "gzip")
    budget = ImageBudget(60_000)
    _worker(blob, Limits(), budget=budget)
    assert budget.used > 40_000
    with pytest.raises(LimitExceeded, match="image exceeds 60000"):
        _worker(blob, Limits(), budget=budget)


def test_progress_counts_compressed_bytes_sent() -> None:
    blob = compress(tar_bytes(FILES), "gzip")
    seen: list[int] = []
    _worker(blob, Limits(), progress=seen.append)
    assert seen and seen[-1] == len(blob) and seen == sorted(seen)


def _counted(blob: bytes, taken: list[int], size: int = 64 * 1024) -> Iterator[bytes]:
    for chunk in chunked(blob, size):
        taken.append(len(chunk))
        yield chunk


def test_an_early_refusal_stops_the_upload_and_the_worker_serves_the_next_layer() -> None:
    good = compress(tar_bytes(FILES), "gzip")
    bad = b"\x1f\x8b\x08\x00" + os.urandom(8 * 1024 * 1024)
    taken: list[int] = []
    with pytest.raises(EvidenceError, match="corrupt gzip"):
        LayerWorkers(Limits()).scan(_counted(bad, taken), MEDIA_TYPE, 2, DIGEST)
    assert sum(taken) < len(bad)
    assert _worker(good, Limits()) == _thread(good, Limits())


def test_a_failing_source_ends_the_job_with_its_error() -> None:
    good = compress(tar_bytes(FILES), "gzip")

    def failing() -> Iterator[bytes]:
        yield good[:1000]
        raise RegistryError("connection reset by the registry")

    with pytest.raises(RegistryError, match="connection reset"):
        LayerWorkers(Limits()).scan(failing(), MEDIA_TYPE, 2, DIGEST)
    assert _worker(good, Limits()) == _thread(good, Limits())


def _worker_pids() -> set[int]:
    pids = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as children:
            for pid in children.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"gate.scan._worker" in cmdline.read():
                        pids.add(int(pid))
    return pids


def test_a_worker_that_dies_mid_layer_is_an_error_naming_the_layer() -> None:
    good = compress(tar_bytes(FILES), "gzip")
    _worker(good, Limits())  # at least one worker is running

    def killing() -> Iterator[bytes]:
        yield good[:1000]
        for pid in _worker_pids():
            os.kill(pid, 9)
        yield good[1000:] + bytes(4 * 1024 * 1024)

    with pytest.raises(EvidenceError, match=r"layer 2 \(sha256:e+\): the layer scan worker process ended unexpectedly"):
        LayerWorkers(Limits()).scan(killing(), MEDIA_TYPE, 2, DIGEST)
    assert _worker(good, Limits()) == _thread(good, Limits())


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")
def test_with_every_worker_busy_the_layer_is_left_to_a_thread() -> None:
    good = compress(tar_bytes(FILES), "gzip")
    release = threading.Event()

    def held() -> Iterator[bytes]:
        yield good[:100]
        release.wait(60)
        yield good[100:]

    busy = [threading.Thread(target=lambda: _worker_on(held())) for _ in range(usable_cores())]
    for thread in busy:
        thread.start()
    try:
        _wait_for_workers(len(busy))
        assert LayerWorkers(Limits()).scan(chunked(good), MEDIA_TYPE, 2, DIGEST) is None
    finally:
        release.set()
        for thread in busy:
            thread.join()


def _worker_on(chunks: Iterator[bytes]) -> None:
    LayerWorkers(Limits()).scan(chunks, MEDIA_TYPE, 2, DIGEST)


def _wait_for_workers(count: int) -> None:
    event = threading.Event()
    for _ in range(600):
        if _POOL._started >= count and not _POOL._idle:
            return
        event.wait(0.05)
    raise AssertionError("workers never became busy")


def test_only_images_with_several_large_layers_use_processes() -> None:
    large, small, half = PROCESS_MIN_BYTES, PROCESS_MIN_BYTES - 1, START_MIN_BYTES // 2
    _POOL.close()  # no worker running: starting one must pay for itself
    assert not _POOL.running()
    assert process_layers([], worker_limit(None, usable_cores())) == frozenset()
    assert process_layers([small, small, small], worker_limit(None, usable_cores())) == frozenset()
    assert process_layers([large, small, large], worker_limit(None, usable_cores())) == frozenset()
    assert process_layers([half, small, half], worker_limit(None, usable_cores())) == (frozenset({0, 2}) if usable_cores() > 1 else frozenset())
    assert process_layers([START_MIN_BYTES, small], worker_limit(None, usable_cores())) == frozenset()
    _worker(compress(tar_bytes(FILES), "gzip"), Limits())  # a worker is running now
    assert process_layers([large, small], worker_limit(None, usable_cores())) == frozenset()
    assert process_layers([large, small, large], worker_limit(None, usable_cores())) == (frozenset({0, 2}) if usable_cores() > 1 else frozenset())
    assert process_layers([half, small, half], worker_limit(0, usable_cores())) == frozenset()  # scan.worker_processes: 0
    assert process_layers([half, small, half], worker_limit(1, usable_cores())) == frozenset()  # one worker cannot run two layers at once
    with _one_core():
        assert usable_cores() == 1
        assert process_layers([half, half], worker_limit(None, usable_cores())) == frozenset()
        assert worker_limit(8, usable_cores()) == 1  # a configured count never exceeds the cores


class _one_core:
    """Pins this process to one core for the ``with`` block."""

    def __enter__(self) -> None:
        self.cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(self.cores)})

    def __exit__(self, *_: object) -> None:
        os.sched_setaffinity(0, self.cores)


def _large_layer(index: int) -> dict[str, object]:
    # Random bytes do not compress, so the layer's blob stays past PROCESS_MIN_BYTES.
    return {f"data/blob{index}.bin": File(os.urandom(PROCESS_MIN_BYTES + 1024)),
            f"app/{index}/config.yaml": f"github_token: {GITHUB}\n", f"app/{index}/main.py": "print(1)\n"}


def test_an_image_with_large_layers_is_judged_the_same_in_workers_and_threads(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    _worker(compress(tar_bytes(FILES), "gzip"), Limits())  # workers run: layers past PROCESS_MIN_BYTES go to them
    image = ImageBuilder().layer({"etc/passwd": PASSWD}).layer(_large_layer(1)).layer(_large_layer(2))
    image.layer(whiteouts=["app/1/config.yaml"]).config(user="app")
    pushed = image.push(registry, f"{repo}:large")
    assert len(process_layers([layer.descriptor()["size"] for layer in image.layers], worker_limit(None, usable_cores()))) == 2 or usable_cores() < 2  # type: ignore[misc]

    async def check() -> list[tuple[str, str]]:
        async with Engine(gate_config) as engine:
            result = await engine.check(pushed.ref)
        assert result.evaluated, result.violations
        return sorted((v.rule, str(v.details.get("path"))) for v in result.violations if v.rule.startswith("secret."))

    in_workers = asyncio.run(check())
    with _one_core():
        in_threads = asyncio.run(check())
    assert in_workers == in_threads == [("secret.deleted-file", "app/1/config.yaml"), ("secret.file", "app/2/config.yaml")]


def test_an_idle_worker_that_died_is_replaced() -> None:
    good = compress(tar_bytes(FILES), "gzip")
    _worker(good, Limits())
    for pid in _worker_pids():
        os.kill(pid, 9)
        while not _ended(pid):
            threading.Event().wait(0.01)
    assert _worker(good, Limits()) == _thread(good, Limits())


def _ended(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its parent's wait counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_large_layer_that_misses_its_digest_counts_for_nothing(registry: RegistryServer, lying_proxy: LyingRegistryProxyDouble, repo: str) -> None:
    """The worker scans the tampered bytes, but the blob's digest check fails after it: the check
    is an evaluation error, and the scan is neither reported nor cached."""
    _worker(compress(tar_bytes(FILES), "gzip"), Limits())  # workers run: layers past PROCESS_MIN_BYTES go to them
    image = ImageBuilder().layer(_large_layer(1)).layer(_large_layer(2)).config(user="app")
    pushed = image.push(registry, f"{repo}:tampered")
    lying_proxy.corrupt_body(f"/blobs/{image.layers[1].digest}")

    async def check_twice() -> list[list[str]]:
        async with Engine(config_for(lying_proxy)) as engine:
            results = [await engine.check(f"{lying_proxy.host}/{pushed.repository}:tampered") for _ in range(2)]
        return [[f"{v.rule} {v.action} {v.message}" for v in result.violations] for result in results]

    for violations in asyncio.run(check_twice()):
        assert any(v.startswith("evaluation.error deny") and "digest mismatch" in v for v in violations), violations
        assert not any(v.startswith("secret.file") for v in violations)


def test_a_forked_child_starts_its_own_workers() -> None:
    """The parent's idle workers carry the parent's jobs: a forked child starts workers of its own
    (children of its own, listed in its /proc entry) instead of writing into the parent's pipes."""
    good = compress(tar_bytes(FILES), "gzip")
    _worker(good, Limits())  # the parent has an idle worker
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if _worker(good, Limits()) == _thread(good, Limits()) and _worker_pids() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _worker(good, Limits()) == _thread(good, Limits())


def test_a_gate_directory_in_the_working_directory_is_not_what_a_worker_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "__init__.py").write_text("raise SystemExit('not the gate that started the worker')\n")
    monkeypatch.chdir(tmp_path)
    _POOL.close()  # the next scan starts a worker here
    good = compress(tar_bytes(FILES), "gzip")
    assert _worker(good, Limits()) == _thread(good, Limits())


def test_scan_worker_processes_zero_keeps_every_layer_in_a_thread(registry: RegistryServer, gate_config: Config, repo: str) -> None:
    _POOL.close()
    image = ImageBuilder().layer(_large_layer(1)).layer(_large_layer(2)).config(user="10001")
    pushed = image.push(registry, f"{repo}:threads")
    config = gate_config.model_copy(update={"scan": gate_config.scan.model_copy(update={"worker_processes": 0})})

    async def check() -> list[str]:
        async with Engine(config) as engine:
            result = await engine.check(pushed.ref)
        return sorted(str(v.details.get("path")) for v in result.violations if v.rule == "secret.file")

    assert asyncio.run(check()) == ["app/1/config.yaml", "app/2/config.yaml"]
    assert not _POOL.running()
