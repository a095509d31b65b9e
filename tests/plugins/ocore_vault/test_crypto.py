"""The vault's stored-value format, key derivation and typed failures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ocore_vault import crypto
from ocore_vault.crypto import (
    IntegrityError,
    KeyRing,
    MalformedValue,
    Purpose,
    UnknownKeyId,
    UnsupportedFormat,
    VaultError,
    VaultKey,
    key_id_of,
)

SECRET = "vault-kat-secret-0123456789abcdefghijklmnop"
OTHER_SECRET = "another-vault-secret-ZYXWVUTSRQPONMLKJIHGFEDCBA"
THIRD_SECRET = "third-vault-secret-qwertyuiopasdfghjklzxcvbnm"

# Computed once with rfc5869_hkdf below (not with the code under test) and pinned here.
SSH_KEY_HEX = "c7083fecf12a9dacaf7ab347b7b00dc11375378025d6b27612faae0b96e07d51"
SSH_KEY_ID_HEX = "062d8be63099bb52"
JWT_KEY_HEX = "2befcd7d4ef810777cf5e28b6b32253987d8eff2d3a1e4018de9f210f745abfe"
JWT_KEY_ID_HEX = "11f328e459b32bb6"
# KeyRing(VaultKey.from_secret(SECRET))._encrypt_with_nonce(b"hunter2", bytes(range(12)),
#     purpose=PASSWORD, table="servers", row_id="42")
FIXED_NONCE_VECTOR_HEX = (
    "5356"  # magic
    "01"  # version
    "01"  # AES-256-GCM
    "062d8be63099bb52"  # key id
    "000102030405060708090a0b"  # nonce
    "8c488e3de92869"  # ciphertext of b"hunter2"
    "cab7a1057b8508d908e8d9ef8c8c2fc6"  # tag
)

SITE = {"purpose": Purpose.PASSWORD, "table": "servers", "row_id": "42"}


def rfc5869_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 straight from RFC 5869, independent of the code under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def hand_built_ad(header: bytes, purpose: str, table: str, row_id: str) -> bytes:
    """The documented associated-data layout, built without the module's helpers."""
    out = header
    for part in (purpose, table, row_id):
        raw = part.encode()
        out += struct.pack(">I", len(raw)) + raw
    return out


@pytest.fixture(scope="module")
def key() -> VaultKey:
    return VaultKey.from_secret(SECRET)


@pytest.fixture(scope="module")
def other_key() -> VaultKey:
    return VaultKey.from_secret(OTHER_SECRET)


@pytest.fixture(scope="module")
def ring(key: VaultKey) -> KeyRing:
    return KeyRing(key)


def test_independent_hkdf_matches_rfc5869_test_case_1() -> None:
    okm = rfc5869_hkdf(
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_salt_labels_and_format_constants_are_pinned() -> None:
    assert crypto.HKDF_SALT == b"ocore-vault/v1/hkdf-salt"
    assert crypto.INFO_SSH_ENCRYPTION_KEY == b"ocore-vault/v1/ssh-encryption-key/aes-256-gcm-key"
    assert crypto.INFO_SSH_ENCRYPTION_KEY_ID == b"ocore-vault/v1/ssh-encryption-key/key-id"
    assert crypto.INFO_JWT_SECRET_KEY == b"ocore-vault/v1/jwt-secret/aes-256-gcm-key"
    assert crypto.INFO_JWT_SECRET_KEY_ID == b"ocore-vault/v1/jwt-secret/key-id"
    labels = {
        crypto.INFO_SSH_ENCRYPTION_KEY,
        crypto.INFO_SSH_ENCRYPTION_KEY_ID,
        crypto.INFO_JWT_SECRET_KEY,
        crypto.INFO_JWT_SECRET_KEY_ID,
    }
    assert len(labels) == 4
    assert (crypto.MAGIC, crypto.FORMAT_VERSION, crypto.ALG_AES_256_GCM) == (b"SV", 1, 1)
    assert (crypto.KEY_ID_SIZE, crypto.NONCE_SIZE, crypto.TAG_SIZE) == (8, 12, 16)
    assert (crypto.HEADER_SIZE, crypto.MIN_VALUE_SIZE) == (24, 40)


def test_known_answer_ssh_encryption_key(key: VaultKey) -> None:
    ikm = SECRET.encode()
    assert rfc5869_hkdf(ikm, crypto.HKDF_SALT, crypto.INFO_SSH_ENCRYPTION_KEY, 32).hex() == (
        SSH_KEY_HEX
    )
    assert rfc5869_hkdf(ikm, crypto.HKDF_SALT, crypto.INFO_SSH_ENCRYPTION_KEY_ID, 8).hex() == (
        SSH_KEY_ID_HEX
    )
    assert key._key.hex() == SSH_KEY_HEX
    assert key.key_id == bytes.fromhex(SSH_KEY_ID_HEX)
    assert key.key_id_hex == SSH_KEY_ID_HEX
    assert key.source == "SSH_ENCRYPTION_KEY"


def test_known_answer_jwt_derived_key_is_distinct() -> None:
    jwt_key = VaultKey.from_jwt_secret(SECRET)
    ikm = SECRET.encode()
    assert rfc5869_hkdf(ikm, crypto.HKDF_SALT, crypto.INFO_JWT_SECRET_KEY, 32).hex() == (
        JWT_KEY_HEX
    )
    assert rfc5869_hkdf(ikm, crypto.HKDF_SALT, crypto.INFO_JWT_SECRET_KEY_ID, 8).hex() == (
        JWT_KEY_ID_HEX
    )
    assert jwt_key._key.hex() == JWT_KEY_HEX
    assert jwt_key.key_id_hex == JWT_KEY_ID_HEX
    assert jwt_key.source == "JWT_SECRET"
    # Never the JWT key itself, and never confusable with the same string as SSH_ENCRYPTION_KEY.
    assert jwt_key._key not in ikm
    assert jwt_key.key_id_hex != SSH_KEY_ID_HEX
    assert jwt_key != VaultKey.from_secret(SECRET)


def test_secret_validation() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        VaultKey.from_secret("x" * 31)
    with pytest.raises(ValueError, match="JWT_SECRET"):
        VaultKey.from_jwt_secret("short")
    with pytest.raises(TypeError):
        VaultKey.from_secret(SECRET.encode())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        VaultKey(b"\x00" * 31, b"\x00" * 8, "test")


def test_unicode_secret_is_utf8() -> None:
    secret = "ключ-шифрования-для-хранилища-0123456789"
    derived = VaultKey.from_secret(secret)
    expected = rfc5869_hkdf(secret.encode(), crypto.HKDF_SALT, crypto.INFO_SSH_ENCRYPTION_KEY, 32)
    assert derived._key == expected


def test_vault_key_is_immutable_and_not_serialisable(key: VaultKey) -> None:
    with pytest.raises(AttributeError):
        key.key_id = b"\x00" * 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        key._key = b"\x00" * 32  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del key.source
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert copy.copy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key
    assert key == VaultKey.from_secret(SECRET)
    assert hash(key) == hash(VaultKey.from_secret(SECRET))
    assert key != "not a key"
    # Derived once: the cipher object lives on the key, encrypt/decrypt never re-run HKDF.
    assert isinstance(key._aead, AESGCM)


def test_fixed_nonce_known_answer_vector(ring: KeyRing) -> None:
    nonce = bytes(range(12))
    blob = ring._encrypt_with_nonce(b"hunter2", nonce, **SITE)
    assert blob.hex() == FIXED_NONCE_VECTOR_HEX
    # Same bytes from a hand-built AES-GCM call with the documented AD layout.
    header = bytes.fromhex("53560101" + SSH_KEY_ID_HEX)
    ad = hand_built_ad(header, "password", "servers", "42")
    assert ad == header + b"\x00\x00\x00\x08password\x00\x00\x00\x07servers\x00\x00\x00\x0242"
    expected = header + nonce + AESGCM(bytes.fromhex(SSH_KEY_HEX)).encrypt(nonce, b"hunter2", ad)
    assert blob == expected
    assert ring.decrypt(bytes.fromhex(FIXED_NONCE_VECTOR_HEX), **SITE) == b"hunter2"


def test_encrypt_with_nonce_checks_nonce_length(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="12 bytes"):
        ring._encrypt_with_nonce(b"x", b"\x00" * 11, **SITE)


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("plaintext", [b"", b"p", b"s3cr3t-password", bytes(range(256)) * 40])
def test_round_trip(ring: KeyRing, purpose: Purpose, plaintext: bytes) -> None:
    blob = ring.encrypt(plaintext, purpose=purpose, table="servers", row_id="row-1")
    assert isinstance(blob, bytes)
    assert len(blob) == 24 + len(plaintext) + 16
    assert blob[:2] == b"SV" and blob[2] == 1 and blob[3] == 1
    assert blob[4:12] == ring.active.key_id
    assert key_id_of(blob) == ring.active.key_id
    assert ring.decrypt(blob, purpose=purpose, table="servers", row_id="row-1") == plaintext


def test_bytes_like_values_are_accepted(ring: KeyRing) -> None:
    blob = ring.encrypt(bytearray(b"pw"), **SITE)
    assert ring.decrypt(memoryview(blob), **SITE) == b"pw"
    assert ring.decrypt(bytearray(blob), **SITE) == b"pw"
    assert key_id_of(memoryview(blob)) == ring.active.key_id


def test_purpose_given_as_its_value(ring: KeyRing) -> None:
    blob = ring.encrypt(b"pw", purpose="password", table="t", row_id="1")  # type: ignore[arg-type]
    assert ring.decrypt(blob, purpose=Purpose.PASSWORD, table="t", row_id="1") == b"pw"
    with pytest.raises(ValueError):
        ring.encrypt(b"pw", purpose="pin", table="t", row_id="1")  # type: ignore[arg-type]


def test_nonces_are_fresh(ring: KeyRing) -> None:
    blobs = {ring.encrypt(b"same", **SITE) for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[12:24] for b in blobs}) == 50


def test_bad_arguments(ring: KeyRing) -> None:
    with pytest.raises(TypeError):
        ring.encrypt("text", **SITE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ring.encrypt(b"x", purpose=Purpose.PASSWORD, table="servers", row_id=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ring.encrypt(b"x", purpose=Purpose.PASSWORD, table="", row_id="1")
    with pytest.raises(ValueError):
        ring.encrypt(b"x", purpose=Purpose.PASSWORD, table="servers", row_id="")


def expected_error_for_position(index: int) -> type[VaultError]:
    if index < 2:
        return MalformedValue
    if index < 4:
        return UnsupportedFormat
    if index < 12:
        return UnknownKeyId
    return IntegrityError


def test_every_byte_position_tampered(ring: KeyRing) -> None:
    blob = ring.encrypt(b"ten bytes!", **SITE)
    assert len(blob) == 50
    for index in range(len(blob)):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(blob)
            tampered[index] ^= flip
            with pytest.raises(expected_error_for_position(index)):
                ring.decrypt(bytes(tampered), **SITE)


def test_unsupported_format_reports_version_and_algorithm(ring: KeyRing) -> None:
    blob = bytearray(ring.encrypt(b"pw", **SITE))
    blob[2] = 2
    with pytest.raises(UnsupportedFormat, match="version 2") as info:
        ring.decrypt(bytes(blob), **SITE)
    assert info.value.version == 2 and info.value.algorithm is None
    blob[2], blob[3] = 1, 7
    with pytest.raises(UnsupportedFormat, match="algorithm 7") as info:
        ring.decrypt(bytes(blob), **SITE)
    assert info.value.algorithm == 7
    with pytest.raises(UnsupportedFormat):
        key_id_of(bytes(blob))


def test_truncated_values(ring: KeyRing) -> None:
    blob = ring.encrypt(b"ten bytes!", **SITE)
    for length in range(len(blob)):
        short = blob[:length]
        expected = MalformedValue if length < crypto.MIN_VALUE_SIZE else IntegrityError
        with pytest.raises(expected):
            ring.decrypt(short, **SITE)
    for length in range(crypto.MIN_VALUE_SIZE):
        with pytest.raises(MalformedValue):
            key_id_of(blob[:length])


def test_extended_values(ring: KeyRing) -> None:
    blob = ring.encrypt(b"pw", **SITE)
    for extra in (b"\x00", b"\xff" * 16, blob):
        with pytest.raises(IntegrityError):
            ring.decrypt(blob + extra, **SITE)


def test_not_a_value(ring: KeyRing) -> None:
    for junk in (b"", b"S", b"XX\x01\x01" + b"\x00" * 40, b"sv\x01\x01" + b"\x00" * 40):
        with pytest.raises(MalformedValue):
            ring.decrypt(junk, **SITE)
    with pytest.raises(MalformedValue):
        ring.decrypt("SV0101", **SITE)  # type: ignore[arg-type]
    with pytest.raises(MalformedValue):
        key_id_of(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "moved",
    [
        {"purpose": Purpose.PASSWORD, "table": "servers", "row_id": "43"},
        {"purpose": Purpose.PASSWORD, "table": "server", "row_id": "42"},
        {"purpose": Purpose.PASSWORD, "table": "servers ", "row_id": "42"},
        {"purpose": Purpose.PASSPHRASE, "table": "servers", "row_id": "42"},
        {"purpose": Purpose.PRIVATE_KEY, "table": "servers", "row_id": "42"},
        # Length prefixes: the same concatenation split differently must not match.
        {"purpose": Purpose.PASSWORD, "table": "servers4", "row_id": "2"},
        {"purpose": Purpose.PASSWORD, "table": "server", "row_id": "s42"},
    ],
)
def test_moved_value_fails(ring: KeyRing, moved: dict[str, object]) -> None:
    blob = ring.encrypt(b"pw", **SITE)
    with pytest.raises(IntegrityError) as info:
        ring.decrypt(blob, **moved)  # type: ignore[arg-type]
    assert info.value.key_id_hex == ring.active.key_id_hex
    assert info.value.table == moved["table"]


def test_unknown_key_id(key: VaultKey, other_key: VaultKey) -> None:
    blob = KeyRing(other_key).encrypt(b"pw", **SITE)
    ring = KeyRing(key, [VaultKey.from_secret(THIRD_SECRET)])
    with pytest.raises(UnknownKeyId) as info:
        ring.decrypt(blob, **SITE)
    err = info.value
    assert err.key_id_hex == other_key.key_id_hex
    assert err.configured == tuple(k.hex() for k in ring.key_ids())
    message = str(err)
    assert other_key.key_id_hex in message
    assert key.key_id_hex in message
    assert "SSH_ENCRYPTION_KEY_PREVIOUS" in message


def test_wrong_key_under_same_key_id(key: VaultKey, other_key: VaultKey) -> None:
    impostor = VaultKey(other_key._key, key.key_id, "test")
    blob = KeyRing(key).encrypt(b"pw", **SITE)
    with pytest.raises(IntegrityError):
        KeyRing(impostor).decrypt(blob, **SITE)


def test_key_id_pointing_at_another_configured_key(key: VaultKey, other_key: VaultKey) -> None:
    ring = KeyRing(key, [other_key])
    blob = bytearray(ring.encrypt(b"pw", **SITE))
    blob[4:12] = other_key.key_id
    with pytest.raises(IntegrityError):
        ring.decrypt(bytes(blob), **SITE)


def test_rotation(key: VaultKey, other_key: VaultKey) -> None:
    old_blob = KeyRing(other_key).encrypt(b"old password", **SITE)
    ring = KeyRing(key, [other_key])
    assert ring.decrypt(old_blob, **SITE) == b"old password"
    assert not ring.is_current(old_blob)
    new_blob = ring.encrypt(b"new password", **SITE)
    assert key_id_of(new_blob) == key.key_id
    assert ring.is_current(new_blob)
    rotated = ring.reencrypt(old_blob, **SITE)
    assert ring.key_id_of(rotated) == key.key_id
    assert ring.decrypt(rotated, **SITE) == b"old password"
    assert KeyRing(key).decrypt(rotated, **SITE) == b"old password"
    with pytest.raises(UnknownKeyId):
        KeyRing(key).decrypt(old_blob, **SITE)


def test_key_ids_and_describe(key: VaultKey, other_key: VaultKey) -> None:
    third = VaultKey.from_secret(THIRD_SECRET)
    ring = KeyRing(key, [other_key, third])
    assert ring.key_ids() == (key.key_id, other_key.key_id, third.key_id)
    assert ring.describe(key.key_id) == "active"
    assert ring.describe(other_key.key_id) == "previous #1"
    assert ring.describe(third.key_id_hex) == "previous #2"
    assert ring.describe(b"\x00" * 8) is None
    assert ring.describe("not hex") is None
    assert ring.key_for(third.key_id) is third
    assert ring.key_for(b"\x00" * 8) is None


def test_duplicate_and_colliding_keys(key: VaultKey, other_key: VaultKey) -> None:
    ring = KeyRing(key, [other_key, VaultKey.from_secret(SECRET), other_key])
    assert ring.key_ids() == (key.key_id, other_key.key_id)
    assert ring.describe(key.key_id) == "active"
    collision = VaultKey(other_key._key, key.key_id, "test")
    with pytest.raises(ValueError, match=key.key_id_hex):
        KeyRing(key, [collision])


def test_jwt_and_ssh_keys_do_not_read_each_other() -> None:
    ssh_ring = KeyRing(VaultKey.from_secret(SECRET))
    jwt_ring = KeyRing(VaultKey.from_jwt_secret(SECRET))
    with pytest.raises(UnknownKeyId):
        jwt_ring.decrypt(ssh_ring.encrypt(b"pw", **SITE), **SITE)
    with pytest.raises(UnknownKeyId):
        ssh_ring.decrypt(jwt_ring.encrypt(b"pw", **SITE), **SITE)


def collect_failures(ring: KeyRing, plaintext: bytes) -> list[VaultError]:
    blob = ring.encrypt(plaintext, **SITE)
    failures: list[VaultError] = []
    cases = [
        b"",
        blob[:30],
        b"SV\x09\x01" + blob[4:],
        b"SV\x01\x09" + blob[4:],
        blob[:4] + b"\x00" * 8 + blob[12:],
        blob[:-1] + bytes([blob[-1] ^ 1]),
    ]
    for case in cases:
        try:
            ring.decrypt(case, **SITE)
        except VaultError as exc:
            failures.append(exc)
    try:
        ring.decrypt(blob, purpose=Purpose.PASSPHRASE, table="servers", row_id="42")
    except VaultError as exc:
        failures.append(exc)
    return failures


def test_nothing_secret_in_reprs_or_errors(key: VaultKey, other_key: VaultKey) -> None:
    plaintext = b"plaintext-password-do-not-leak"
    ring = KeyRing(key, [other_key])
    secret_texts = [
        SECRET,
        OTHER_SECRET,
        key._key.hex(),
        other_key._key.hex(),
        plaintext.decode(),
        repr(key._key),
    ]
    failures = collect_failures(ring, plaintext)
    assert {type(f) for f in failures} == {
        MalformedValue,
        UnsupportedFormat,
        UnknownKeyId,
        IntegrityError,
    }
    shown = [repr(key), str(key), repr(other_key), repr(ring), str(ring)]
    for failure in failures:
        assert failure.__cause__ is None
        shown += [str(failure), repr(failure), repr(failure.args), repr(vars(failure))]
    for text in shown:
        for secret in secret_texts:
            assert secret not in text
    assert key.key_id_hex in repr(key)
