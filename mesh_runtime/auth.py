"""JWT verification and the caller's identity.

Tokens carry ``tenant_id``, ``sub`` (the user id) and scopes (``scope``, space
separated, or a ``scopes`` list). HS256 uses the shared secret (development);
RS256 verifies against the public keys of a JWKS file (production).
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt

from mesh_runtime.errors import PermissionDenied, Unauthenticated
from mesh_runtime.settings import Settings

SCOPE_FEEDBACK_WRITE = "feedback:write"
SCOPE_FEEDBACK_READ = "feedback:read"
# Change or retract any feedback of the tenant, not only one's own.
SCOPE_FEEDBACK_ADMIN = "feedback:admin"
SCOPE_SENTIMENT = "sentiment:analyze"
SCOPE_INGEST_READ = "ingest:read"
SCOPE_ANALYTICS_READ = "analytics:read"
# Service-to-service calls (outbox pulls, direct ingest) only.
SCOPE_INTERNAL = "mesh:internal"

DEFAULT_USER_SCOPES = (
    SCOPE_FEEDBACK_WRITE,
    SCOPE_FEEDBACK_READ,
    SCOPE_SENTIMENT,
    SCOPE_INGEST_READ,
    SCOPE_ANALYTICS_READ,
)
INTERNAL_TENANT = "_mesh"
# Verified tokens remembered per process (cleared when full: tokens are few and long-lived).
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    user_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(f"the token lacks the scope {scope!r}")


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "feedbackmesh_principal", default=None
)


def current_principal() -> Principal:
    """The verified caller of the RPC being served (set by the server interceptor)."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("no verified caller")
    return principal


def set_current_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._algorithm = settings.jwt_algorithm
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._keys: dict[str | None, Any] = {}
        self._verified: dict[str, tuple[Principal, float]] = {}
        if self._algorithm == "HS256":
            self._keys[None] = settings.jwt_secret.get_secret_value().encode()
        else:
            if settings.jwks_file is None:
                raise ValueError("FEEDBACKMESH_JWKS_FILE is required with RS256")
            jwks = json.loads(settings.jwks_file.read_text())
            for jwk in jwks.get("keys", []):
                self._keys[jwk.get("kid")] = jwt.PyJWK(jwk, algorithm="RS256").key

    def _key_for(self, token: str) -> Any:
        if self._algorithm == "HS256":
            return self._keys[None]
        kid = jwt.get_unverified_header(token).get("kid")
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise Unauthenticated("the token is signed with an unknown key")

    def verify(self, token: str) -> Principal:
        # A verified token is remembered until it expires: clients reuse one token for
        # many calls, and checking the signature is a large part of a short call.
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires_at = cached
            if time.time() < expires_at:
                return principal
            del self._verified[token]
        principal, expires_at = self._decode(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires_at)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the token is invalid") from exc
        tenant = claims.get("tenant_id")
        if not isinstance(tenant, str | int) or str(tenant) == "":
            raise Unauthenticated("the token has no tenant_id claim")
        principal = Principal(str(tenant), str(claims["sub"]), frozenset(_scopes_of(claims)))
        return principal, float(claims["exp"])


def _scopes_of(claims: dict[str, Any]) -> Iterable[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        yield from scope.split()
    scopes = claims.get("scopes")
    if isinstance(scopes, list):
        yield from (str(s) for s in scopes)


def mint_token(
    settings: Settings,
    *,
    tenant_id: str,
    user_id: str,
    scopes: Iterable[str] = DEFAULT_USER_SCOPES,
    ttl_seconds: int = 24 * 3600,
    now: float | None = None,
) -> str:
    """A development token signed with the HS256 secret."""
    if settings.jwt_algorithm != "HS256":
        raise ValueError("dev tokens can only be minted with HS256")
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "tenant_id": tenant_id,
        "scope": " ".join(scopes),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def internal_token(settings: Settings) -> str:
    """The token services present to each other."""
    if settings.internal_token is not None:
        return settings.internal_token.get_secret_value()
    return mint_token(
        settings,
        tenant_id=INTERNAL_TENANT,
        user_id="feedbackmesh-service",
        scopes=(SCOPE_INTERNAL, SCOPE_SENTIMENT),
        ttl_seconds=365 * 24 * 3600,
    )


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
