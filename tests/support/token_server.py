"""TokenServerDouble: a test double of a Docker registry token server (the ``auth.token`` realm).

Real deployments run a separate token service (Docker Hub's auth.docker.io, Harbor, GitLab...);
none runs here, so this double stands in for one. It implements the Docker token protocol as
distribution 2.8 consumes it (``docs/spec/auth/token.md`` and ``jwt.md``): ``GET /token?service=
&scope=`` with HTTP basic credentials answers ``{"token", "access_token", "expires_in",
"issued_at"}``, the token being an ES256 JWT with ``iss``/``sub``/``aud``/``exp``/``nbf``/``iat``/
``jti`` and ``access`` claims for the requested scopes.

Why hand-written JWTs instead of PyJWT: an ES256 JWS is three base64url parts and one ECDSA
signature, and PyJWT is only a transitive dependency. The registry finds the verification key by
the JWT header ``kid``, which must be the libtrust key ID of a certificate in its
``rootcertbundle`` (distribution ``registry/auth/token/token.go``: ``kid`` looks the key up in the
trusted keys built from that bundle).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

TOKEN_LIFETIME_SECONDS = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """docker/libtrust ``KeyID``: base32 of the first 240 bits of SHA-256(SPKI DER), in 4-char groups."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def parse_scopes(values: Iterable[str]) -> list[dict[str, object]]:
    """``repository:shop/api:pull,push`` -> ``[{"type": "repository", "name": "shop/api", "actions": [...]}]``.

    Several scopes may come in one parameter separated by spaces, or in repeated parameters.
    """
    access = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
    return access


class TokenServerDouble:
    """Issues registry bearer tokens on 127.0.0.1 for one user; counts what it issued.

    Args:
        workdir: where the signing certificate (the registry's ``rootcertbundle``) is written.
        username, password: the only accepted basic credentials.
        anonymous_actions: actions granted without credentials (e.g. ``{"pull"}``); none by default,
            so an anonymous token request gets 401.

    Attributes:
        issued: number of tokens issued. requests: ``(scope, username or None)`` per token request.
        token_lifetime: seconds until issued tokens expire (lower it to test token refresh).
    """

    service = "gate-test-registry"
    issuer = "gate-test-token-server-double"

    def __init__(
        self, workdir: Path, username: str, password: str, anonymous_actions: Iterable[str] = ()
    ) -> None:
        self.username, self.password = username, password
        self.anonymous_actions = frozenset(anonymous_actions)
        self.issued = 0
        self.token_lifetime = TOKEN_LIFETIME_SECONDS
        self.requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = libtrust_key_id(self._key.public_key())
        self.cert_path = workdir / "token-signing-cert.pem"
        self.cert_path.write_bytes(self._self_signed_cert().public_bytes(serialization.Encoding.PEM))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="token-server-double", daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/token"

    def registry_auth(self) -> dict[str, dict[str, str]]:
        """The registry's ``auth`` config section pointing at this server."""
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.cert_path),
            }
        }

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def _self_signed_cert(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gate test token signer")])
        now = dt.datetime.now(dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )

    def grant(self, authorization: str | None, scopes: list[str]) -> tuple[int, dict[str, object]]:
        """Decide one token request: (HTTP status, JSON body)."""
        user = self._basic_user(authorization)
        with self._lock:
            self.requests.append((" ".join(scopes), user))
        if user is None and authorization is not None:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        access = parse_scopes(scopes)
        if user is None:
            if not self.anonymous_actions:
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]}
            for entry in access:
                entry["actions"] = [a for a in entry["actions"] if a in self.anonymous_actions]  # type: ignore[union-attr]
        token = self.sign(user or "", access, self.token_lifetime)
        with self._lock:
            self.issued += 1
        issued_at = dt.datetime.now(dt.timezone.utc).isoformat()
        body = {"token": token, "access_token": token, "expires_in": self.token_lifetime, "issued_at": issued_at}
        return 200, body

    def _basic_user(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if (user, password) == (self.username, self.password) else None

    def sign(self, subject: str, access: list[dict[str, object]], lifetime: int = TOKEN_LIFETIME_SECONDS) -> str:
        """An ES256 JWT the registry accepts (``kid`` = libtrust key ID of the bundle's certificate)."""
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "kid": self.key_id}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + lifetime,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _handler_for(server: TokenServerDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            if url.path != "/token":
                self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            query = parse_qs(url.query)
            status, body = server.grant(self.headers.get("Authorization"), query.get("scope", []))
            self._reply(status, body)

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="token-server-double"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature is http.server's)
            return

    return Handler
