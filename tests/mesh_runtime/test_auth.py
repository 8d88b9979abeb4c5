"""Token verification: HS256 (development) and RS256 via a JWKS file (production)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesh_runtime.auth import TokenVerifier, mint_token
from mesh_runtime.errors import PermissionDenied, Unauthenticated
from mesh_runtime.settings import Settings


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": "feedbackmesh",
        "aud": "feedbackmesh",
        "sub": "user-7",
        "tenant_id": "acme",
        "scope": "feedback:read analytics:read",
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return claims


def test_hs256_round_trip_gives_tenant_user_and_scopes() -> None:
    settings = Settings()
    token = mint_token(settings, tenant_id="acme", user_id="u1", scopes=["feedback:read"])
    principal = TokenVerifier(settings).verify(token)
    assert (principal.tenant_id, principal.user_id) == ("acme", "u1")
    assert principal.scopes == {"feedback:read"}
    principal.require("feedback:read")
    with pytest.raises(PermissionDenied):
        principal.require("feedback:write")


@pytest.mark.parametrize(
    "claims",
    [
        _claims(tenant_id=None),
        _claims(aud="someone-else"),
        _claims(iss="someone-else"),
        _claims(exp=int(time.time()) - 5),
    ],
)
def test_hs256_rejects_bad_claims(claims: dict[str, object]) -> None:
    settings = Settings()
    claims = {k: v for k, v in claims.items() if v is not None}
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(Unauthenticated):
        TokenVerifier(settings).verify(token)


def test_rs256_verifies_with_the_jwks_file_and_rejects_other_keys(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    settings = Settings(jwt_algorithm="RS256", jwks_file=jwks)
    verifier = TokenVerifier(settings)

    good = jwt.encode(
        _claims(scopes=["feedback:write"]), key, algorithm="RS256", headers={"kid": "k1"}
    )
    principal = verifier.verify(good)
    assert principal.tenant_id == "acme"
    assert principal.scopes == {"feedback:read", "analytics:read", "feedback:write"}

    forged = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        verifier.verify(forged)
    unknown_kid = jwt.encode(_claims(), key, algorithm="RS256", headers={"kid": "k2"})
    with pytest.raises(Unauthenticated):
        verifier.verify(unknown_kid)
    # An HS256 token signed with the public key must not pass (algorithm confusion).
    hs = jwt.encode(_claims(), "x" * 64, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        verifier.verify(hs)


def test_a_cached_token_is_refused_once_it_expires() -> None:
    settings = Settings()
    verifier = TokenVerifier(settings)
    token = mint_token(settings, tenant_id="acme", user_id="u1", ttl_seconds=1)
    assert verifier.verify(token).tenant_id == "acme"
    assert verifier.verify(token).tenant_id == "acme"  # served from the cache
    time.sleep(2.1)  # exp has whole-second resolution
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
