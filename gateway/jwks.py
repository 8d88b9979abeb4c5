"""The JWKS the gateway verifies tokens with, inlined into the Envoy config.

Inline (``local_jwks``) rather than fetched: the gateway then has no start-up dependency
on a JWKS endpoint, and the config stays one self-contained document.
"""

from __future__ import annotations

import base64
import json
import logging

from mesh_runtime.settings import Settings

logger = logging.getLogger(__name__)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hs256_jwks(secret: str) -> str:
    """A JWKS holding the shared HS256 secret as an ``oct`` key (no kid: any token matches)."""
    key = {"kty": "oct", "alg": "HS256", "k": _b64url(secret.encode("utf-8"))}
    return json.dumps({"keys": [key]})


def jwks_for(settings: Settings) -> str:
    if settings.jwt_algorithm == "HS256":
        return hs256_jwks(settings.jwt_secret.get_secret_value())
    if settings.jwks_file is None:
        raise ValueError("jwt_algorithm RS256 needs FEEDBACKMESH_JWKS_FILE (a JWKS of public keys)")
    try:
        document = json.loads(settings.jwks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read JWKS file {settings.jwks_file}: {exc}") from exc
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError(f"JWKS file {settings.jwks_file} has no 'keys'")
    if any(isinstance(k, dict) and ("d" in k or "p" in k) for k in keys):
        # A private key in a gateway ConfigMap would let anyone who reads it mint tokens.
        raise ValueError(f"JWKS file {settings.jwks_file} contains private key material")
    return json.dumps({"keys": keys})
