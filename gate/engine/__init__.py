"""The engine: one image reference to one verdict (resolve, gather, verify, scan, decide).

    async with Engine(config) as engine:
        result = await engine.check("registry.example/shop/api:1.4", WorkloadContext(namespace="shop"))
"""

from gate.engine._engine import Engine, WorkloadContext, is_pending
from gate.engine._gathered import Gathered
from gate.engine._image import LayerProgress

__all__ = ["Engine", "Gathered", "LayerProgress", "WorkloadContext", "is_pending"]
