"""Image content scanner: secrets in config, history and every layer; root user; build leftovers.

Gets parsed configs and layer byte streams, never a registry client (no network I/O here)::

    findings = scan_config(config)                            # secret.env, secret.build-arg
    findings += scan_build_args(provenance_args, "provenance")  # secret.build-arg
    scanner = LayerScanner(config.limits)
    cache = LayerScanCache(directory=None)                    # per digest, one scan in flight
    layer = await cache.get_or_scan(digest, lambda: asyncio.to_thread(scanner.scan, chunks, media_type, index, digest))
    image = combine_layers(layers, config.get("history"))     # secret.file / secret.deleted-file, content.*
    user = resolve_user(config["config"].get("User"), image.passwd)   # user.root

``LayerScanner.scan`` is CPU-bound and synchronous: run it in a worker thread. ``LayerWorkers.scan``
does the same in a worker process, for images with several large layers (``process_layers``).
"""

from typing import TYPE_CHECKING

from gate._lazy import lazy_exports

if TYPE_CHECKING:
    from gate.scan._cache import LayerScanCache
    from gate.scan._combine import ImageScan, combine_layers
    from gate.scan._files import scan_file
    from gate.scan._finding import Finding
    from gate.scan._history import scan_build_args, scan_config
    from gate.scan._layer import LayerScanner
    from gate.scan._layer_scan import SCANNER_VERSION, ImageBudget, LayerScan
    from gate.scan._matcher import ContentMatcher
    from gate.scan._user import UserFact, resolve_user
    from gate.scan._cores import usable_cores
    from gate.scan._workers import LayerWorkers, process_layers, worker_limit

__getattr__ = lazy_exports(
    __name__,
    {
        "._cache": ("LayerScanCache",),
        "._combine": ("ImageScan", "combine_layers"),
        "._files": ("scan_file",),
        "._finding": ("Finding",),
        "._history": ("scan_build_args", "scan_config"),
        "._layer": ("LayerScanner",),
        "._layer_scan": ("SCANNER_VERSION", "ImageBudget", "LayerScan"),
        "._matcher": ("ContentMatcher",),
        "._user": ("UserFact", "resolve_user"),
        "._cores": ("usable_cores",),
        "._workers": ("LayerWorkers", "process_layers", "worker_limit"),
    },
)

__all__ = [
    "SCANNER_VERSION",
    "ContentMatcher",
    "Finding",
    "ImageBudget",
    "ImageScan",
    "LayerScanCache",
    "LayerScan",
    "LayerScanner",
    "LayerWorkers",
    "UserFact",
    "combine_layers",
    "process_layers",
    "resolve_user",
    "scan_build_args",
    "scan_config",
    "scan_file",
    "usable_cores",
    "worker_limit",
]
