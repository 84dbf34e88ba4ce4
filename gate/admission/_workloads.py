"""Find every image a workload object would pull, with the security context it would run under.

Pure functions over the JSON the API server sends: the pod spec of a Pod or of any kind that
carries a pod template, its three container lists and its image volumes. Each use carries the
effective ``runAsNonRoot`` / ``runAsUser`` (a container's ``securityContext`` overrides the pod's)
because ``user.root`` depends on them.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, NamedTuple

from gate.errors import RequestError

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class WorkloadError(RequestError):
    """The object is not a workload gate can read; the message names the field."""


class ImageUse(NamedTuple):
    """One image in one place of the pod spec (a named tuple: every warm review makes and
    compares a few, at C speed).

    ``location`` names the field for messages (``spec.template.spec.containers[0] "api"``);
    ``pointer`` is the JSON pointer (RFC 6901) of the image string, where a JSONPatch rewrites it.
    Image volumes are mounted, never run, so their use says ``run_as_non_root=True``: ``user.root``
    does not apply to them.
    """

    image: str
    location: str
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    pointer: str = ""

    @property
    def key(self) -> tuple[str, bool | None, int | None]:
        """What a verdict depends on: the image and the context ``user.root`` reads."""
        return (self.image, self.run_as_non_root, self.run_as_user)


def is_workload(kind: str) -> bool:
    """True for Pod and every kind gate knows to carry a pod template."""
    return kind in POD_SPEC_PATHS


def pod_spec(kind: str, obj: Any) -> tuple[str, dict[str, Any]]:
    """The pod spec inside ``obj`` and its dotted path.

    Raises:
        WorkloadError: ``kind`` carries no pod spec, or the path to it is missing or not an object.
    """
    path = POD_SPEC_PATHS.get(kind)
    if path is None:
        raise WorkloadError(f"kind {kind or '(none)'!s} carries no pod spec")
    node = obj
    for depth, part in enumerate(path):
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise WorkloadError(f"{kind} object has no {'.'.join(path[: depth + 1])} object")
    return ".".join(path), node


def image_uses(kind: str, obj: Any) -> list[ImageUse]:
    """Every image use of the workload: init, regular and ephemeral containers, then image volumes.

    Raises:
        WorkloadError: the pod spec is missing, a list is not a list, or an image is not a string.
    """
    prefix, spec = pod_spec(kind, obj)
    pointer = "/" + "/".join(POD_SPEC_PATHS[kind])
    pod_context = _security(spec.get("securityContext"), f"{prefix}.securityContext")
    uses: list[ImageUse] = []
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(_items(spec, list_name, prefix)):
            uses.extend(_container_use(container, f"{prefix}.{list_name}[{index}]", pod_context, f"{pointer}/{list_name}/{index}/image"))
    for index, volume in enumerate(_items(spec, "volumes", prefix)):
        uses.extend(_volume_use(volume, f"{prefix}.volumes[{index}]", f"{pointer}/volumes/{index}/image/reference"))
    return uses


def changed_uses(kind: str, new: Any, old: Any) -> list[ImageUse]:
    """Uses in ``new`` whose image or security context was not already in ``old`` (UPDATE).

    An unreadable old object means every use of the new one is judged.

    Raises:
        WorkloadError: the new object is unreadable.
    """
    try:
        before = {use.key for use in image_uses(kind, old)}
    except WorkloadError:
        before = set()
    return [use for use in image_uses(kind, new) if use.key not in before]


def _items(spec: dict[str, Any], field: str, prefix: str) -> list[dict[str, Any]]:
    value = spec.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(map(isinstance, value, repeat(dict))):
        raise WorkloadError(f"{prefix}.{field} must be a list of objects")
    return value


def _security(context: Any, where: str) -> dict[str, Any]:
    """``runAsNonRoot`` / ``runAsUser`` of a securityContext; a wrong type counts as unset (strict)."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise WorkloadError(f"{where} must be an object")
    found: dict[str, Any] = {}
    if isinstance(context.get("runAsNonRoot"), bool):
        found["run_as_non_root"] = context["runAsNonRoot"]
    user = context.get("runAsUser")
    if isinstance(user, int) and not isinstance(user, bool):
        found["run_as_user"] = user
    return found


def _container_use(container: dict[str, Any], location: str, pod_context: dict[str, Any], pointer: str) -> list[ImageUse]:
    image = container.get("image")
    if image is None or image == "":
        return []  # a template may leave it to a controller; the API server rejects a Pod without one
    if not isinstance(image, str):
        raise WorkloadError(f"{location}.image must be a string")
    name = container.get("name")
    security = container.get("securityContext")
    context = pod_context if security is None else pod_context | _security(security, f"{location}.securityContext")
    label = f'{location} "{name}"' if isinstance(name, str) and name else location
    return [ImageUse(image.strip(), label, **context, pointer=pointer)]


def _volume_use(volume: dict[str, Any], location: str, pointer: str) -> list[ImageUse]:
    source = volume.get("image")
    if source is None:
        return []
    reference = source.get("reference") if isinstance(source, dict) else None
    if not isinstance(reference, str) or not reference.strip():
        raise WorkloadError(f"{location}.image.reference must be a non-empty string")
    name = volume.get("name")
    label = f'{location} "{name}"' if isinstance(name, str) and name else location
    return [ImageUse(reference.strip(), label, run_as_non_root=True, pointer=pointer)]
