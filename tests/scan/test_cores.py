"""Usable cores: the CPU affinity capped by the cgroup CPU quota, read as the kernel writes it.

The cgroup files are laid out in a temporary directory as a container or a host shows them:
cgroup v2 ``cpu.max`` ("max 100000" or "<quota> <period>") on the process's cgroup and its
ancestors, cgroup v1 ``cpu.cfs_quota_us`` (-1: none) and ``cpu.cfs_period_us`` under the cpu
controller's mount; ``/proc/self/cgroup`` names the process's cgroup in each hierarchy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gate.scan._cores import cpu_quota, usable_cores


def _cgroup_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "proc-self-cgroup"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _v2(root: Path, path: str, cpu_max: str | None) -> None:
    directory = root.joinpath(*Path(path).parts[1:])
    directory.mkdir(parents=True, exist_ok=True)
    if cpu_max is not None:
        (directory / "cpu.max").write_text(cpu_max + "\n")


def _v1(root: Path, controllers: str, path: str, quota: int, period: int = 100000) -> None:
    directory = (root / controllers).joinpath(*Path(path).parts[1:])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (directory / "cpu.cfs_period_us").write_text(f"{period}\n")


@pytest.mark.parametrize(("cpu_max", "cores"), [("max 100000", None), ("150000 100000", 2), ("100000 100000", 1), ("50000 100000", 1),
                                                ("400000 100000", 4), ("garbage", None), ("100000 0", None)])
def test_cgroup_v2_cpu_max_in_a_container(tmp_path: Path, cpu_max: str, cores: int | None) -> None:
    root = tmp_path / "cgroup"
    _v2(root, "/", cpu_max)  # a private cgroup namespace: the container's cgroup is the mount
    assert cpu_quota(_cgroup_file(tmp_path, "0::/"), root) == cores


def test_cgroup_v2_the_tightest_ancestor_wins(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _v2(root, "/", None)
    _v2(root, "/kubepods", "max 100000")
    _v2(root, "/kubepods/pod1", "200000 100000")
    _v2(root, "/kubepods/pod1/container", "350000 100000")
    assert cpu_quota(_cgroup_file(tmp_path, "0::/kubepods/pod1/container"), root) == 2


def test_cgroup_v2_path_as_the_host_names_it_falls_back_to_the_mount(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _v2(root, "/", "300000 100000")  # the container's own cgroup mounted at the root
    assert cpu_quota(_cgroup_file(tmp_path, "0::/kubepods/burstable/pod9/abc"), root) == 3


def test_cgroup_v1_cfs_quota(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _v1(root, "cpu,cpuacct", "/", 250000)
    lines = ("12:memory:/docker/abc", "3:cpu,cpuacct:/docker/abc", "0::/")
    assert cpu_quota(_cgroup_file(tmp_path, *lines), root) == 3


def test_cgroup_v1_no_quota_and_unreadable_files_set_no_limit(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _v1(root, "cpu", "/", -1)
    assert cpu_quota(_cgroup_file(tmp_path, "1:cpu:/"), root) is None
    assert cpu_quota(tmp_path / "missing", root) is None
    assert cpu_quota(_cgroup_file(tmp_path, "1:cpu:/"), tmp_path / "no-mount") is None


def test_usable_cores_is_the_affinity_capped_by_the_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    root = tmp_path / "cgroup"
    _v2(root, "/", "100000 100000")
    assert usable_cores(_cgroup_file(tmp_path, "0::/"), root) == 1
    _v2(root, "/", "max 100000")
    assert usable_cores(_cgroup_file(tmp_path, "0::/"), root) == affinity
    _v2(root, "/", f"{(affinity + 8) * 100000} 100000")
    assert usable_cores(_cgroup_file(tmp_path, "0::/"), root) == affinity
