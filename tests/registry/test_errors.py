"""No httpx exception leaves gate.registry: each one maps to a RegistryError naming the image."""

from __future__ import annotations

import httpx
import pytest

from gate.config import Config
from gate.errors import RegistryError
from gate.registry import Reference
from gate.registry._errors import status_error
from gate.registry._transport import HTTPX_ERRORS, Transport

REF = Reference.parse("127.0.0.1:5000/shop/api:1.4")


def _subclasses(roots: tuple[type[Exception], ...]) -> list[type[Exception]]:
    found, stack = [], list(roots)
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__name__)


def _instance(cls: type[Exception]) -> Exception:
    request = httpx.Request("GET", "http://127.0.0.1:5000/v2/")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, (httpx.RequestError, httpx.TransportError)):
        return cls("boom", request=request)
    try:
        return cls("boom")
    except TypeError:  # the StreamError family takes no message
        return cls()


@pytest.mark.parametrize("cls", _subclasses(HTTPX_ERRORS), ids=lambda cls: cls.__name__)
def test_every_httpx_exception_is_mapped(cls: type[Exception]) -> None:
    transport = Transport(Config())
    with pytest.raises(RegistryError) as caught:
        with transport.mapped(REF, "127.0.0.1:5000"):
            raise _instance(cls)
    assert str(REF) in caught.value.message and caught.value.remedy
    assert caught.value.details["registry"] == "127.0.0.1:5000" and caught.value.details["repository"] == "shop/api"
    assert isinstance(caught.value.__cause__, cls)


def test_every_httpx_exception_class_is_covered() -> None:
    exported = {getattr(httpx, name) for name in httpx.__all__}
    errors = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, Exception)}
    assert errors <= set(_subclasses(HTTPX_ERRORS))


@pytest.mark.parametrize(
    ("status", "fragment", "remedy"),
    [
        (401, "authentication failed for registry 127.0.0.1:5000", "check registries.docker_config / imagePullSecrets"),
        (403, "denied access", "pull access"),
        (404, "manifest unknown: tag or digest not found in repository shop/api", "push the image"),
        (429, "rate limiting", "retry later"),
        (503, "failed with HTTP 503", "retry later"),
        (418, "answered HTTP 418", "check"),
    ],
)
def test_statuses_say_what_to_do(status: int, fragment: str, remedy: str) -> None:
    body = b'{"errors":[{"code":"SOME_CODE","message":"x"}]}'
    error = status_error(REF, status, "manifest", body, retries=3)
    assert fragment in error.message and remedy in error.remedy
    assert "[SOME_CODE]" in error.message or status == 429
    assert error.details == {"registry": "127.0.0.1:5000", "repository": "shop/api", "reference": str(REF), "status": status, "code": "SOME_CODE"}
