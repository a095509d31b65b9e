"""The software authenticator of the test kit against the ``webauthn`` library directly: its
attestations and assertions verify, its signatures are real (a flipped byte fails) and its
knobs (origin, RP ID, counter, clone) change exactly what they say."""

from __future__ import annotations

import hashlib

import cbor2
import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import InvalidAuthenticationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from ocore_auth.testing_authenticator import SoftwareAuthenticator, b64url, cbor, unb64url

RP = "ocore.example.com"
ORIGIN = "https://ocore.example.com"


def _register(key: SoftwareAuthenticator):
    options = generate_registration_options(
        rp_id=RP, rp_name="ocore", user_name="a@example.com", user_id=b"h" * 32
    )
    response = key.create(options_to_json_dict(options))
    verified = verify_registration_response(
        credential=response,
        expected_challenge=options.challenge,
        expected_rp_id=RP,
        expected_origin=ORIGIN,
    )
    return response, verified


def _login(key: SoftwareAuthenticator, public_key: bytes, stored: int, **kwargs):
    options = generate_authentication_options(rp_id=RP)
    return verify_authentication_response(
        credential=key.get(options_to_json_dict(options), **kwargs),
        expected_challenge=options.challenge,
        expected_rp_id=RP,
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=stored,
    )


def test_cbor_encoding_matches_a_reference_decoder() -> None:
    value = {1: 2, 3: -7, -1: 1, -2: b"x" * 32, "fmt": "none", "attStmt": {}, "n": 70000}
    assert cbor2.loads(cbor(value)) == value
    assert cbor2.loads(cbor([0, 23, 24, 255, 256, 2**32, -25, True, None])) == [
        0,
        23,
        24,
        255,
        256,
        2**32,
        -25,
        True,
        None,
    ]


def test_registration_verifies_with_a_none_attestation_and_an_es256_key() -> None:
    key = SoftwareAuthenticator(ORIGIN)
    response, verified = _register(key)
    assert verified.fmt == "none"
    assert verified.credential_id == unb64url(response["id"])
    assert verified.sign_count == 0 and verified.user_verified
    assert cbor2.loads(verified.credential_public_key)[3] == -7
    assert key.credentials[0].user_handle == b"h" * 32


def test_assertions_are_real_signatures_with_a_rising_counter() -> None:
    key = SoftwareAuthenticator(ORIGIN)
    _, registered = _register(key)
    first = _login(key, registered.credential_public_key, 0)
    second = _login(key, registered.credential_public_key, first.new_sign_count)
    assert (first.new_sign_count, second.new_sign_count) == (1, 2)

    options = generate_authentication_options(rp_id=RP)
    assertion = key.get(options_to_json_dict(options))
    signature = bytearray(unb64url(assertion["response"]["signature"]))
    signature[-1] ^= 1
    assertion["response"]["signature"] = b64url(bytes(signature))
    with pytest.raises(InvalidAuthenticationResponse, match="signature"):
        verify_authentication_response(
            credential=assertion,
            expected_challenge=options.challenge,
            expected_rp_id=RP,
            expected_origin=ORIGIN,
            credential_public_key=registered.credential_public_key,
            credential_current_sign_count=2,
        )


def test_origin_rp_id_and_counter_overrides_reach_the_signed_data() -> None:
    key = SoftwareAuthenticator(ORIGIN)
    _, registered = _register(key)
    options = options_to_json_dict(generate_authentication_options(rp_id=RP))
    wrong = key.get(options, origin="https://evil.example", rp_id="evil.example", counter=7)
    client_data = unb64url(wrong["response"]["clientDataJSON"])
    auth_data = unb64url(wrong["response"]["authenticatorData"])
    assert b'"origin":"https://evil.example"' in client_data
    assert auth_data[:32] == hashlib.sha256(b"evil.example").digest()
    assert int.from_bytes(auth_data[33:37], "big") == 7
    assert key.credentials[0].sign_count == 0  # a presented counter is not stored


def test_a_clone_counts_on_its_own_and_a_replayed_counter_is_refused() -> None:
    key = SoftwareAuthenticator(ORIGIN)
    _, registered = _register(key)
    twin = key.clone()
    assert _login(key, registered.credential_public_key, 0).new_sign_count == 1
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        _login(twin, registered.credential_public_key, 1)  # the twin also says 1


def test_allow_credentials_selects_the_credential_and_none_held_is_an_error() -> None:
    key = SoftwareAuthenticator(ORIGIN)
    _register(key)
    _register(key)
    wanted = key.credentials[1].credential_id
    options = generate_authentication_options(
        rp_id=RP, allow_credentials=[PublicKeyCredentialDescriptor(id=wanted)]
    )
    assert unb64url(key.get(options_to_json_dict(options))["rawId"]) == wanted
    other = generate_authentication_options(rp_id="other.example")
    with pytest.raises(LookupError, match="other.example"):
        key.get(options_to_json_dict(other))
