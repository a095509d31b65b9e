"""Passkey (WebAuthn) ceremonies over the database, with ``WEBAUTHN_RP_ID``/``WEBAUTHN_ORIGIN``.

Each ceremony is begin → browser → finish. ``begin`` stores a random 64-byte challenge
(single-use, ``CHALLENGE_TTL``) and returns the options JSON for
``navigator.credentials.create/get``. ``finish`` takes the browser's ``credential.toJSON()``,
finds the challenge inside its clientDataJSON and consumes it before anything else (so a
failed attempt burns it too), then checks, each refusal a ``PasskeyError`` with a clear
message: the ceremony type, the origin (must equal ``WEBAUTHN_ORIGIN``), the RP ID hash (must
be SHA-256 of ``WEBAUTHN_RP_ID``), then the ``webauthn`` library's full verification
(attestation/signature, user presence). Login then checks the signature counter (must increase
when either the stored or the presented one is non-zero; else a cloned authenticator is
suspected) and stores it with a compare-and-set, so two logins racing with one counter cannot
both pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, options_to_json_dict, parse_attestation_object
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ocore_auth import passkeys_store as store
from ocore_auth.errors import AuthError
from ocore_auth.passkeys_store import CHALLENGE_TIMEOUT_MS, PasskeyInfo

log = logging.getLogger("ocore_auth.passkeys")

RP_NAME = "ocore"
MAX_PASSKEYS = 20  # per user
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
TRANSPORTS = {t.value: t for t in AuthenticatorTransport}
STALE = "unknown, expired or already used passkey challenge: begin the ceremony again"
UNKNOWN_PASSKEY = "this passkey is not registered here"


class PasskeyError(AuthError):
    """A refused ceremony step: ``status`` and a message safe to show (answered by the
    plugin's error handler like every ``AuthError``; a 401 carries ``WWW-Authenticate``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        headers = {"WWW-Authenticate": 'Bearer realm="ocore"'} if status == 401 else None
        super().__init__(message, headers=headers)
        self.status = status


@dataclass(frozen=True)
class Passkeys:
    """The ceremonies for one relying party. ``decoy_key`` (secret, stable across workers)
    derives the fake credential IDs returned for an unknown email, so login/begin does not
    tell which emails have an account."""

    engine: Engine
    rp_id: str
    origin: str
    decoy_key: bytes

    # -- registration (a signed-in user adds a passkey) ------------------------------------

    def registration_options(self, user_id: int) -> dict[str, Any]:
        """Begin registration: options for ``navigator.credentials.create`` (JSON form)."""
        with self.engine.begin() as conn:
            user = store.user_entity(conn, user_id)
            if user is None or user.disabled:
                raise PasskeyError("this account is disabled", 401)
            existing = store.credentials_of_user(conn, user_id)
            if len(existing) >= MAX_PASSKEYS:
                raise PasskeyError(
                    f"at most {MAX_PASSKEYS} passkeys per account: delete one first", 409
                )
            options = generate_registration_options(
                rp_id=self.rp_id,
                rp_name=RP_NAME,
                user_name=user.email,
                user_id=bytes(user.user_handle),
                timeout=CHALLENGE_TIMEOUT_MS,
                attestation=AttestationConveyancePreference.NONE,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.PREFERRED,
                    user_verification=UserVerificationRequirement.PREFERRED,
                ),
                exclude_credentials=[_descriptor(c, t) for c, t in existing],
                supported_pub_key_algs=ALGORITHMS,
            )
            store.add_challenge(conn, options.challenge, "register", user_id)
        return options_to_json_dict(options)

    def register(self, user_id: int, credential: Any, name: str) -> PasskeyInfo:
        """Finish registration: verify the attestation and store the credential as ``name``."""
        challenge = _client_challenge(credential)
        self._take(challenge, "register", user_id)
        _check_client_data(credential, "webauthn.create", self.origin)
        try:
            auth_data = parse_attestation_object(_b64field(credential, "attestationObject"))
        except Exception as exc:
            raise PasskeyError("malformed passkey response: unreadable attestationObject") from exc
        self._check_rp_id_hash(auth_data.auth_data.rp_id_hash)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                supported_pub_key_algs=ALGORITHMS,
            )
        except WebAuthnException as exc:
            raise PasskeyError(f"passkey registration refused: {exc}") from exc
        except Exception as exc:  # the library parsing hostile bytes (CBOR, COSE, lengths)
            raise PasskeyError("passkey registration refused: unreadable credential") from exc
        transports = credential["response"].get("transports")
        transports = (
            [t for t in transports if t in TRANSPORTS] if isinstance(transports, list) else []
        )
        try:
            with self.engine.begin() as conn:
                return store.add_passkey(
                    conn,
                    user_id=user_id,
                    credential_id=verified.credential_id,
                    public_key=verified.credential_public_key,
                    sign_count=verified.sign_count,
                    transports=[t for t in transports if isinstance(t, str) and t in TRANSPORTS][
                        :8
                    ],
                    name=name,
                    backed_up=verified.credential_backed_up,
                )
        except IntegrityError as exc:
            raise PasskeyError("this passkey is already registered", 409) from exc

    # -- authentication (anyone: the passkey is the credential) ----------------------------

    def authentication_options(self, email: str | None = None) -> dict[str, Any]:
        """Begin login: options for ``navigator.credentials.get``. With ``email``, they list
        that account's credentials (decoys for an unknown email); without, the browser offers
        the discoverable passkeys it holds for the RP ID."""
        with self.engine.begin() as conn:
            user_id, allowed = None, []
            if email:
                user_id, allowed = store.credentials_for_email(conn, email)
                if not allowed:
                    allowed = [(self._decoy(email), ["internal", "hybrid"])]
            options = generate_authentication_options(
                rp_id=self.rp_id,
                timeout=CHALLENGE_TIMEOUT_MS,
                allow_credentials=[_descriptor(c, t) for c, t in allowed],
                user_verification=UserVerificationRequirement.PREFERRED,
            )
            store.add_challenge(conn, options.challenge, "login", user_id)
        return options_to_json_dict(options)

    def authenticate(self, credential: Any) -> int:
        """Finish login: verify the assertion, advance the counter; the user's id."""
        challenge = _client_challenge(credential)
        issued_for = self._take(challenge, "login")
        _check_client_data(credential, "webauthn.get", self.origin)
        auth_data = _b64field(credential, "authenticatorData")
        if len(auth_data) < 37:
            raise PasskeyError("malformed passkey response: authenticatorData is too short")
        self._check_rp_id_hash(auth_data[:32])
        with self.engine.connect() as conn:
            stored = store.passkey_by_credential(conn, _b64field(credential, "rawId", top=True))
        if stored is None or issued_for not in (None, stored.user_id):
            raise PasskeyError(UNKNOWN_PASSKEY, 401)
        handle = credential["response"].get("userHandle")
        if handle and _b64(handle, "userHandle") != stored.user_handle:
            raise PasskeyError(UNKNOWN_PASSKEY, 401)
        try:  # the library's counter check is ours below, after the signature is known good
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=stored.public_key,
                credential_current_sign_count=0,
            )
        except WebAuthnException as exc:
            raise PasskeyError(f"passkey login refused: {exc}", 401) from exc
        except Exception as exc:  # the library parsing hostile bytes
            raise PasskeyError("passkey login refused: unreadable credential", 401) from exc
        if stored.user_disabled:
            raise PasskeyError("this account is disabled", 401)
        presented = verified.new_sign_count
        if (presented or stored.sign_count) and presented <= stored.sign_count:
            self._clone_suspected(stored, presented)
        with self.engine.begin() as conn:
            if not store.record_use(
                conn, stored.id, stored.sign_count, presented, verified.credential_backed_up
            ):
                self._clone_suspected(stored, presented)
        return stored.user_id

    # -- the user's own list ---------------------------------------------------------------

    def owned(self, user_id: int) -> list[PasskeyInfo]:
        """The user's passkeys."""
        with self.engine.connect() as conn:
            return store.list_passkeys(conn, user_id)

    def delete(self, user_id: int, passkey_id: int) -> None:
        """Delete one of the user's own passkeys (404 for any other id, whoever owns it)."""
        with self.engine.begin() as conn:
            if not store.delete_passkey(conn, user_id, passkey_id):
                raise PasskeyError("you have no passkey with this id", 404)

    # -- internals -------------------------------------------------------------------------

    def _take(self, challenge: bytes, purpose: str, user_id: int | None = None) -> int | None:
        with self.engine.begin() as conn:  # committed now: a failed finish burns it too
            found, issued_for = store.take_challenge(conn, challenge, purpose, user_id)
        if not found:
            raise PasskeyError(STALE)
        return issued_for

    def _check_rp_id_hash(self, rp_id_hash: bytes) -> None:
        if not hmac.compare_digest(rp_id_hash, hashlib.sha256(self.rp_id.encode()).digest()):
            raise PasskeyError(
                "the passkey answered for another relying party: expected RP ID "
                f"{self.rp_id} (WEBAUTHN_RP_ID)"
            )

    def _decoy(self, email: str) -> bytes:
        return hmac.new(self.decoy_key, email.lower().encode(), hashlib.sha256).digest()

    def _clone_suspected(self, stored: store.StoredPasskey, presented: int) -> None:
        log.warning(
            "passkey %s of user %s presented sign counter %s, not above the stored %s: "
            "refused (a cloned authenticator or a replay)",
            stored.id,
            stored.user_id,
            presented,
            stored.sign_count,
        )
        raise PasskeyError(
            "passkey sign counter did not increase: the authenticator may have been cloned; "
            "login refused",
            401,
        )


def _descriptor(credential_id: bytes, transports: list[str]) -> PublicKeyCredentialDescriptor:
    known = [TRANSPORTS[t] for t in transports if t in TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential_id, transports=known or None)


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 64 * 1024:
        raise PasskeyError(f"malformed passkey response: {what} must be a base64url string")
    try:
        return base64url_to_bytes(value)
    except Exception as exc:
        raise PasskeyError(f"malformed passkey response: {what} is not base64url") from exc


def _b64field(credential: Any, name: str, *, top: bool = False) -> bytes:
    """A base64url member of the credential (``top``) or of its ``response``, decoded."""
    holder = credential if top else _response(credential)
    return _b64(holder.get(name), name)


def _response(credential: Any) -> dict[str, Any]:
    response = credential.get("response") if isinstance(credential, dict) else None
    if not isinstance(response, dict):
        raise PasskeyError("malformed passkey response: no response object")
    return response


def _client_data(credential: Any) -> dict[str, Any]:
    raw = _b64field(credential, "clientDataJSON")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PasskeyError("malformed passkey response: clientDataJSON is not JSON") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("type", "challenge", "origin")
    ):
        raise PasskeyError(
            "malformed passkey response: clientDataJSON needs type, challenge and origin"
        )
    return data


def _client_challenge(credential: Any) -> bytes:
    """The challenge the browser signed (how finish finds its ceremony)."""
    return _b64(_client_data(credential)["challenge"], "challenge")


def _check_client_data(credential: Any, kind: str, origin: str) -> None:
    data = _client_data(credential)
    if data["type"] != kind:
        raise PasskeyError(f"wrong passkey ceremony: expected clientDataJSON type {kind}")
    if data["origin"] != origin:
        raise PasskeyError(
            f"the passkey ceremony ran on another origin: expected {origin} (WEBAUTHN_ORIGIN)"
        )
