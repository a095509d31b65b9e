"""Access-token verification refuses every forgery and misuse the issue names: ``alg: none``,
another algorithm, a wrong signature, a future ``iat``, an expired ``exp``, missing claims,
another token type; the previous secret verifies during a rotation."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from ocore_auth.tokens import AccessTokens, TokenInvalid, new_refresh_token, refresh_hash

SECRET = "unit-jwt-Ab3Cd6Ef9Gh2Ij5Kl8Mn1Op4Qr7St0U"
OLD = "unit-old-Vw3Xy6Za9Bc2De5Fg8Hi1Jk4Lm7No0P"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"sub": "7", "jti": "j" * 32, "sid": "s", "typ": "access", "role": "admin"}
    return {**base, "iat": now, "exp": now + 60, **overrides}


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(SECRET, None, 3600)


def refused(tokens: AccessTokens, token: str) -> str:
    with pytest.raises(TokenInvalid) as info:
        tokens.verify(token)
    return str(info.value)


def test_issued_tokens_verify_with_exact_lifetime(tokens) -> None:
    token, exp = tokens.issue(42, "operator", "family-1")
    got = tokens.verify(token)
    assert (got.user_id, got.role, got.session) == (42, "operator", "family-1")
    assert got.expires_at == exp and exp - got.issued_at == 3600


def test_lifetime_rounds_up_to_whole_seconds() -> None:
    assert AccessTokens(SECRET, None, 0.2).lifetime == 1
    assert AccessTokens(SECRET, None, 90.5).lifetime == 91


def test_alg_none_is_refused(tokens) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    assert "algorithm 'none'" in refused(tokens, f"{header}.{body}.")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_algorithms_are_refused_even_with_the_right_key(tokens, alg: str) -> None:
    assert "not accepted" in refused(tokens, jwt.encode(claims(), SECRET, algorithm=alg))


def test_rs256_signed_token_is_refused(tokens) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "not accepted" in refused(tokens, jwt.encode(claims(), key, algorithm="RS256"))


def test_hs256_with_public_key_confusion_header_tampering_is_refused(tokens) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    header, body, sig = token.split(".")
    evil = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    forged_body = b64(json.dumps(claims(role="admin", sub="1")).encode())
    assert refused(tokens, f"{evil}.{forged_body}.{sig}") == "bad signature"


def test_wrong_secret_is_a_bad_signature(tokens) -> None:
    assert refused(tokens, jwt.encode(claims(), "x" * 40, algorithm="HS256")) == "bad signature"


def test_future_iat_is_refused(tokens) -> None:
    now = int(time.time())
    token = jwt.encode(claims(iat=now + 120, exp=now + 3600), SECRET, algorithm="HS256")
    assert "future" in refused(tokens, token)


def test_expired_is_refused(tokens) -> None:
    now = int(time.time())
    token = jwt.encode(claims(iat=now - 120, exp=now - 60), SECRET, algorithm="HS256")
    assert "expired" in refused(tokens, token)


@pytest.mark.parametrize("missing", ["sub", "jti", "sid", "typ", "role", "iat", "exp"])
def test_every_claim_is_required(tokens, missing: str) -> None:
    body = claims()
    del body[missing]
    assert missing in refused(tokens, jwt.encode(body, SECRET, algorithm="HS256"))


@pytest.mark.parametrize("typ", ["refresh", "id", ""])
def test_another_token_type_is_refused(tokens, typ: str) -> None:
    token = jwt.encode(claims(typ=typ), SECRET, algorithm="HS256")
    assert refused(tokens, token) == "not an access token"


@pytest.mark.parametrize(
    "junk", ["", "abc", "a.b", "a.b.c", "ocr_" + "x" * 43, "é.é.é", "x" * 5000 + ".a.b"]
)
def test_junk_is_refused_without_crashing(tokens, junk: str) -> None:
    assert refused(tokens, junk)


def test_non_numeric_subject_is_refused(tokens) -> None:
    assert refused(tokens, jwt.encode(claims(sub="root"), SECRET, algorithm="HS256"))


def test_previous_secret_verifies_but_never_signs() -> None:
    old = AccessTokens(OLD, None, 60)
    rotating = AccessTokens(SECRET, OLD, 60)
    token, _ = old.issue(1, "viewer", "f")
    assert rotating.verify(token).user_id == 1
    fresh, _ = rotating.issue(1, "viewer", "f")
    jwt.decode(fresh, SECRET, algorithms=["HS256"])
    with pytest.raises(TokenInvalid):
        old.verify(fresh)


def test_refresh_tokens_are_random_prefixed_and_hashed() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b and a.startswith("ocr_") and len(a) == 4 + 43
    assert refresh_hash(a) != refresh_hash(b) and len(refresh_hash(a)) == 32
    assert refresh_hash("eyJhbGciOi.x.y") is None


def test_reprs_show_no_secret_or_token(tokens) -> None:
    from ocore_auth.tokens import Tokens

    assert SECRET not in repr(tokens)
    shown = repr(Tokens("access-value", "ocr_refresh-value", 60, 120))
    assert "access-value" not in shown and "refresh-value" not in shown
