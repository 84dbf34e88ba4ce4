"""gate.scan's public surface is pinned: changing it is a decision, not an accident."""

import gate.scan


def test_exported_members() -> None:
    assert sorted(gate.scan.__all__) == sorted([
        "SCANNER_VERSION", "ContentMatcher", "Finding", "ImageBudget", "ImageScan", "LayerScanCache", "LayerScan",
        "LayerScanner", "LayerWorkers", "UserFact", "combine_layers", "process_layers", "resolve_user", "scan_build_args", "scan_config",
        "scan_file", "usable_cores", "worker_limit",
    ])
    assert all(hasattr(gate.scan, name) for name in gate.scan.__all__)
