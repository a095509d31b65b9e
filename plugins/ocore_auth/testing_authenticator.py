"""A software WebAuthn authenticator for tests: real ES256 (P-256) keys and real signatures.

It answers the JSON options a relying party sends (``PublicKeyCredentialCreationOptionsJSON``
/ ``...RequestOptionsJSON``, as ``webauthn.options_to_json`` writes them) with the JSON a
browser's ``credential.toJSON()`` returns: ``create`` makes a credential with a "none"
attestation, ``get`` signs ``authenticatorData || SHA-256(clientDataJSON)`` with the
credential's private key and bumps its signature counter. It plays the browser's part too
(it writes clientDataJSON with the origin it was given), so a test can present a wrong
origin or RP ID, replay an old counter (``counter=``) or ``clone()`` the device.

Independent of the library under test: its own CBOR encoder and base64url, ``cryptography``
for the keys. Typical use::

    key = SoftwareAuthenticator("https://ocore.example.com")
    credential = key.create(begin_response_json)            # → register/finish
    assertion = key.get(login_begin_response_json)          # → login/finish
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data included
ES256 = -7
AAGUID = bytes(16)  # "none" attestation: all zeros


def b64url(data: bytes) -> str:
    """Unpadded base64url, the encoding WebAuthn's JSON forms use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value: Any) -> bytes:
    """Minimal CBOR encoder (ints, bytes, text, lists, dicts): enough for COSE keys and
    attestation objects."""
    if isinstance(value, bool) or value is None:
        return bytes([0xF5 if value is True else 0xF4 if value is False else 0xF6])
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list | tuple):
        return _head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError("integer too large for CBOR")


@dataclass
class Credential:
    """One credential the authenticator holds (resident: it keeps the user handle)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key (EC2, P-256, ES256)."""
        numbers = self.private_key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor({1: 2, 3: ES256, -1: 1, -2: x, -3: y})


@dataclass
class SoftwareAuthenticator:
    """A platform authenticator plus the browser around it, bound to ``origin``.

    ``rp_id``: the RP ID it hashes into authenticatorData (default: the ``rp.id``/``rpId`` of
    the options, as a browser would). ``counter_step``: how much each assertion adds to the
    signature counter (0 makes a counter-less authenticator). ``user_verified`` and
    ``backed_up`` set those flags.
    """

    origin: str
    rp_id: str | None = None
    counter_step: int = 1
    user_verified: bool = True
    backed_up: bool = False
    transports: tuple[str, ...] = ("internal",)
    credentials: list[Credential] = field(default_factory=list)

    # -- registration -------------------------------------------------------------------

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None
    ) -> dict[str, Any]:
        """Answer creation options with a new credential (RegistrationResponseJSON)."""
        options = options.get("publicKey", options)
        options_rp_id = options["rp"].get("id") or _host(self.origin)
        credential = Credential(
            credential_id=os.urandom(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=options_rp_id,
            user_handle=unb64url(options["user"]["id"]),
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = (
            AAGUID
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._auth_data(rp_id or self.rp_id or options_rp_id, FLAG_AT, 0) + attested
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": list(self.transports),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    # -- authentication -----------------------------------------------------------------

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        credential: Credential | None = None,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """Answer request options with a signed assertion (AuthenticationResponseJSON).

        Picks the first held credential the options allow (any for the RP ID when
        ``allowCredentials`` is empty: a discoverable login), or ``credential``. ``counter``
        presents that signature counter instead of bumping the stored one (a replay).
        """
        options = options.get("publicKey", options)
        chosen = credential or self._choose(options)
        if counter is None:
            chosen.sign_count += self.counter_step
            counter = chosen.sign_count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(rp_id or self.rp_id or chosen.rp_id, 0, counter)
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(chosen.credential_id),
            "rawId": b64url(chosen.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(chosen.user_handle),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def clone(self) -> SoftwareAuthenticator:
        """A copy holding the same keys and counters (a cloned device: each copy then counts
        on its own, which the relying party should notice)."""
        return copy.deepcopy(self)

    # -- internals ----------------------------------------------------------------------

    def _choose(self, options: dict[str, Any]) -> Credential:
        rp_id = options.get("rpId") or _host(self.origin)
        allowed = {unb64url(c["id"]) for c in options.get("allowCredentials") or []}
        for held in self.credentials:
            if held.rp_id == rp_id and (not allowed or held.credential_id in allowed):
                return held
        raise LookupError(f"no credential for RP ID {rp_id} among the allowed ones")

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        payload = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**payload, "crossOrigin": False}, separators=(",", ":")).encode()

    def _auth_data(self, rp_id: str, flags: int, sign_count: int) -> bytes:
        flags |= FLAG_UP
        if self.user_verified:
            flags |= FLAG_UV
        if self.backed_up:
            flags |= FLAG_BE | FLAG_BS
        rp_id_hash = hashlib.sha256(rp_id.encode("utf-8")).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count)


def _host(origin: str) -> str:
    return urlsplit(origin).hostname or ""
