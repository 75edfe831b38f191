"""Development tokens: a key made once, tokens any JWT library verifies with its public half."""

import json
import stat
from pathlib import Path

import jwt
import pytest

from sagakit import devauth


def test_the_key_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = devauth.ensure_key(tmp_path / "auth" / "dev.pem")
    first = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert devauth.ensure_key(path).read_bytes() == first


def test_a_token_verifies_with_the_public_jwk_and_carries_the_roles(tmp_path: Path) -> None:
    key = devauth.load_key(devauth.ensure_key(tmp_path / "dev.pem"))
    token = devauth.issue(key, "alice", ["customer"], roles_claim="realm_access.roles")
    jwk = devauth.public_jwk(key)
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    public = jwt.PyJWK.from_json(json.dumps(jwk)).key
    claims = jwt.decode(
        token, public, algorithms=["ES256"], audience="saga", issuer=devauth.DEV_ISSUER
    )
    assert claims["sub"] == "alice"
    assert claims["realm_access"] == {"roles": ["customer"]}
    assert claims["exp"] > claims["iat"]


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "rsa.pem").write_bytes(pem)
    with pytest.raises(ValueError, match="P-256"):
        devauth.load_key(tmp_path / "rsa.pem")
