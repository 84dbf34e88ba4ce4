"""How many cores this process may keep busy: its CPU affinity, capped by its cgroup's CPU quota.

A container limited to 2 CPUs on a 64-core node still has all 64 cores in its affinity mask;
sizing scan worker processes and concurrent layer reads by that mask would start dozens of
interpreters in a 2-CPU container under a memory limit. So, as Go's runtime sizes GOMAXPROCS and
the JVM its thread pools, the CPU quota counts too: cgroup v2 ``cpu.max`` and cgroup v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``, of the process's cgroup and of each ancestor the
mount shows (the smallest wins), rounded up to whole cores (1.5 CPUs allow 2).
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

_PROC_CGROUP = Path("/proc/self/cgroup")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(proc_cgroup: Path = _PROC_CGROUP, cgroup_root: Path = _CGROUP_ROOT) -> int:
    """The cores this process may run on (affinity, e.g. a cpuset), capped by its CPU quota; at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(proc_cgroup, cgroup_root)
    return max(1, cores if quota is None else min(cores, quota))


def cpu_quota(proc_cgroup: Path = _PROC_CGROUP, cgroup_root: Path = _CGROUP_ROOT) -> int | None:
    """The tightest CPU quota on this process's cgroups as whole cores (rounded up); None when none is set or readable."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:  # cgroup v2: one unified hierarchy
            quotas += filter(None, (_v2_quota(directory) for directory in _directories(cgroup_root, path)))
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own mount
            quotas += filter(None, (_v1_quota(directory) for directory in _directories(cgroup_root / controllers, path)))
    return max(1, math.ceil(min(quotas))) if quotas else None


def _directories(mount: Path, path: str) -> list[Path]:
    """The cgroup's directory and its ancestors' under ``mount``, down to the mount itself.

    Inside a container the mount is usually the container's own cgroup while ``path`` names it as
    the host sees it, so only the mount exists; on a host, the whole chain does.
    """
    parts = PurePosixPath(path).parts[1:]
    return [directory for depth in range(len(parts), -1, -1) if (directory := mount.joinpath(*parts[:depth])).is_dir()]


def _v2_quota(directory: Path) -> float | None:
    """``cpu.max`` as CPUs: "max 100000" is no limit, "150000 100000" is 1.5."""
    try:
        quota, period = (directory / "cpu.max").read_text().split()
        return int(quota) / int(period) if quota != "max" and int(period) > 0 else None
    except (OSError, ValueError):
        return None


def _v1_quota(directory: Path) -> float | None:
    """``cpu.cfs_quota_us`` over ``cpu.cfs_period_us`` as CPUs; a quota of -1 is no limit."""
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None
