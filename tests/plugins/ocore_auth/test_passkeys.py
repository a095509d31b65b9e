"""Passkeys end to end through the app, with the kit's software authenticator (real P-256 keys,
real signatures): registration, discoverable and e-mail logins, single-use and expiring
challenges, origin and RP ID checks, sign-counter (clone) detection, ownership, disabled users,
the guard — and one full ceremony against a real gunicorn with two workers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import ocore_auth
import ocore_database
from ocore_auth.testing import bearer
from ocore_auth.testing_authenticator import (
    Credential,
    SoftwareAuthenticator,
    b64url,
    unb64url,
)
from ocore_flask.testing import ServerProcess, base_env, free_port, script

ORIGIN = "https://ocore.example.com"
RP_ID = "ocore.example.com"
LOGIN_BEGIN = "/api/auth/passkey/login/begin"
LOGIN_FINISH = "/api/auth/passkey/login/finish"
MINE = "/api/user/passkeys"


@pytest.fixture(scope="module")
def auth_env(auth_env: dict[str, str]) -> dict[str, str]:
    """The kit's environment with an explicit https relying party."""
    return {**auth_env, "WEBAUTHN_ORIGIN": ORIGIN}


@pytest.fixture
def key() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(ORIGIN)


def register(client, headers, key: SoftwareAuthenticator, name: str = "Laptop", **kw) -> Any:
    """register/begin then register/finish with ``key``; the finish response."""
    begin = client.post(f"{MINE}/register/begin", headers=headers)
    assert begin.status_code == 200, begin.get_json()
    credential = key.create(begin.get_json(), **kw)
    body = {"credential": credential, "name": name}
    return client.post(f"{MINE}/register/finish", headers=headers, json=body)


def begin_login(client, email: str | None = None) -> dict[str, Any]:
    response = client.post(LOGIN_BEGIN, json={"email": email} if email else {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def finish_login(client, assertion: dict[str, Any]) -> Any:
    return client.post(LOGIN_FINISH, json={"credential": assertion})


def passkey_login(client, key: SoftwareAuthenticator, email: str | None = None, **kw) -> Any:
    return finish_login(client, key.get(begin_login(client, email), **kw))


def stored_counter(app, passkey_id: int) -> tuple[int, Any]:
    with ocore_database.engine(app).connect() as conn:
        row = conn.execute(
            text("SELECT sign_count, last_used_at FROM auth_passkeys WHERE id = :i"),
            {"i": passkey_id},
        ).one()
    return row.sign_count, row.last_used_at


def message(response) -> str:
    body = response.get_json()
    assert set(body) >= {"code", "status", "message"}, body
    return body["message"]


# -- the happy path ------------------------------------------------------------------------


def test_register_then_log_in_with_a_discoverable_passkey(auth_app, auth_client, users, key):
    user = users("ana@example.com", "operator")
    headers = bearer(auth_app, user)

    created = register(auth_client, headers, key, name="  Laptop ")
    assert created.status_code == 201, created.get_json()
    passkey = created.get_json()
    assert passkey["name"] == "Laptop" and passkey["transports"] == ["internal"]
    assert passkey["last_used_at"] is None
    listed = auth_client.get(MINE, headers=headers).get_json()
    assert [p["id"] for p in listed] == [passkey["id"]]
    assert not {"public_key", "credential_id", "sign_count"} & set(listed[0])

    options = begin_login(auth_client)
    assert options["rpId"] == RP_ID and options["allowCredentials"] == []
    assert len(unb64url(options["challenge"])) == 64
    response = finish_login(auth_client, key.get(options))
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert "ocore_access=" in cookies and "ocore_refresh=" in cookies and "HttpOnly" in cookies
    assert response.headers["Cache-Control"] == "no-store"

    me = auth_client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.get_json()["email"] == "ana@example.com" and me.get_json()["role"] == "operator"
    count, last_used = stored_counter(auth_app, passkey["id"])
    assert count == 1 and last_used is not None
    assert ocore_auth.auth(auth_app).users.get(user.id).last_login_at is not None
    refreshed = auth_client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200


def test_login_with_an_email_lists_its_passkeys_and_decoys_for_an_unknown_one(
    auth_app, auth_client, users, key
):
    headers = bearer(auth_app, users("bo@example.com"))
    assert register(auth_client, headers, key).status_code == 201
    mine = begin_login(auth_client, "BO@example.com")["allowCredentials"]
    assert [unb64url(c["id"]) for c in mine] == [key.credentials[0].credential_id]
    assert passkey_login(auth_client, key, "bo@example.com").status_code == 200

    decoys = [begin_login(auth_client, "nobody@example.com")["allowCredentials"] for _ in "ab"]
    assert decoys[0] == decoys[1] and len(decoys[0]) == 1  # stable: looks like a real account
    assert unb64url(decoys[0][0]["id"]) != key.credentials[0].credential_id
    assert set(decoys[0][0]) == set(mine[0])


def test_a_passkey_of_another_account_cannot_answer_an_email_login(
    auth_app, auth_client, users, key
):
    register(auth_client, bearer(auth_app, users("c1@example.com")), key)
    users("c2@example.com")
    other = SoftwareAuthenticator(ORIGIN)
    register(auth_client, bearer(auth_app, users("c3@example.com")), other)
    options = begin_login(auth_client, "c1@example.com")
    response = finish_login(auth_client, other.get(options, credential=other.credentials[0]))
    assert response.status_code == 401 and "not registered" in message(response)


# -- challenges ----------------------------------------------------------------------------


def test_a_challenge_is_single_use(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("d@example.com"))
    begin = auth_client.post(f"{MINE}/register/begin", headers=headers).get_json()
    body = {"credential": key.create(begin), "name": "Key"}
    assert (
        auth_client.post(f"{MINE}/register/finish", headers=headers, json=body).status_code == 201
    )
    again = auth_client.post(f"{MINE}/register/finish", headers=headers, json=body)
    assert again.status_code == 400 and "already used" in message(again)

    assertion = key.get(begin_login(auth_client))
    assert finish_login(auth_client, assertion).status_code == 200
    replay = finish_login(auth_client, assertion)
    assert replay.status_code == 400 and "begin the ceremony again" in message(replay)


def test_an_expired_challenge_is_refused(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("e@example.com"))
    assert register(auth_client, headers, key).status_code == 201
    options = begin_login(auth_client)
    with ocore_database.engine(auth_app).begin() as conn:
        conn.execute(text("UPDATE auth_challenges SET expires_at = now() - interval '1 second'"))
    response = finish_login(auth_client, key.get(options))
    assert response.status_code == 400 and "expired" in message(response)


def test_a_registration_challenge_is_bound_to_the_user_it_was_issued_to(
    auth_app, auth_client, users, key
):
    first = bearer(auth_app, users("f1@example.com"))
    second = bearer(auth_app, users("f2@example.com"))
    begin = auth_client.post(f"{MINE}/register/begin", headers=first).get_json()
    body = {"credential": key.create(begin), "name": "Stolen"}
    response = auth_client.post(f"{MINE}/register/finish", headers=second, json=body)
    assert response.status_code == 400
    assert auth_client.get(MINE, headers=second).get_json() == []


def test_a_registration_response_cannot_finish_a_login(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("g@example.com"))
    assert register(auth_client, headers, key).status_code == 201
    created = key.create(begin_login(auth_client) | {"rp": {"id": RP_ID}, "user": {"id": "AA"}})
    response = finish_login(auth_client, created)
    assert response.status_code == 400 and "expected clientDataJSON type webauthn.get" in (
        message(response)
    )


# -- origin and relying party --------------------------------------------------------------


def test_a_wrong_origin_is_refused_naming_the_expected_one(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("h@example.com"))
    refused = register(auth_client, headers, key, origin="https://evil.example")
    assert refused.status_code == 400
    assert message(refused) == (
        f"the passkey ceremony ran on another origin: expected {ORIGIN} (WEBAUTHN_ORIGIN)"
    )
    key.credentials.clear()
    assert register(auth_client, headers, key).status_code == 201
    response = passkey_login(auth_client, key, origin="http://ocore.example.com")
    assert response.status_code == 400 and ORIGIN in message(response)
    assert "WEBAUTHN_ORIGIN" in message(response)


def test_a_wrong_rp_id_is_refused_naming_the_expected_one(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("i@example.com"))
    refused = register(auth_client, headers, key, rp_id="example.com")
    assert refused.status_code == 400
    assert message(refused) == (
        f"the passkey answered for another relying party: expected RP ID {RP_ID} (WEBAUTHN_RP_ID)"
    )
    assert auth_client.get(MINE, headers=headers).get_json() == []
    key.credentials.clear()
    assert register(auth_client, headers, key).status_code == 201
    response = passkey_login(auth_client, key, rp_id="evil.example")
    assert response.status_code == 400 and f"RP ID {RP_ID}" in message(response)


# -- signatures and counters ---------------------------------------------------------------


def test_a_forged_signature_is_refused(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("j@example.com"))
    passkey = register(auth_client, headers, key).get_json()
    held = key.credentials[0]
    impostor = Credential(
        held.credential_id,
        ec.generate_private_key(ec.SECP256R1()),
        RP_ID,
        held.user_handle,
        sign_count=5,
    )
    response = passkey_login(auth_client, key, credential=impostor)
    assert response.status_code == 401 and "signature" in message(response)
    assert stored_counter(auth_app, passkey["id"])[0] == 0
    assert passkey_login(auth_client, key).status_code == 200


def test_a_counter_that_does_not_increase_is_refused(auth_app, auth_client, users, key, caplog):
    headers = bearer(auth_app, users("k@example.com"))
    passkey = register(auth_client, headers, key).get_json()
    twin = key.clone()
    assert passkey_login(auth_client, key).status_code == 200  # counter 1
    assert passkey_login(auth_client, key).status_code == 200  # counter 2

    replayed = passkey_login(auth_client, key, counter=2)
    assert replayed.status_code == 401 and "cloned" in message(replayed)
    cloned = passkey_login(auth_client, twin)  # the clone's own counter says 1
    assert cloned.status_code == 401 and "cloned" in message(cloned)
    assert stored_counter(auth_app, passkey["id"])[0] == 2
    assert "not above the stored 2" in caplog.text
    assert passkey_login(auth_client, key).status_code == 200  # the original goes on: 3


def test_an_authenticator_without_a_counter_may_log_in_repeatedly(auth_app, auth_client, users):
    key = SoftwareAuthenticator(ORIGIN, counter_step=0)
    headers = bearer(auth_app, users("l@example.com"))
    passkey = register(auth_client, headers, key).get_json()
    for _ in range(2):
        assert passkey_login(auth_client, key).status_code == 200
    assert stored_counter(auth_app, passkey["id"])[0] == 0
    response = passkey_login(auth_client, key, counter=0)
    assert response.status_code == 200


# -- accounts and ownership ----------------------------------------------------------------


def test_a_disabled_user_cannot_log_in_with_a_passkey(auth_app, auth_client, users, key):
    headers = bearer(auth_app, users("m@example.com"))
    assert register(auth_client, headers, key).status_code == 201
    ocore_auth.auth(auth_app).set_disabled("m@example.com", True)
    response = passkey_login(auth_client, key)
    assert response.status_code == 401 and "disabled" in message(response)
    assert "access_token" not in response.get_json()
    assert begin_login(auth_client, "m@example.com")["allowCredentials"][0]["id"] != b64url(
        key.credentials[0].credential_id
    )


def test_only_the_owner_can_delete_a_passkey(auth_app, auth_client, users, key):
    owner = bearer(auth_app, users("n1@example.com"))
    other = bearer(auth_app, users("n2@example.com", "admin"))
    passkey = register(auth_client, owner, key).get_json()

    refused = auth_client.delete(f"{MINE}/{passkey['id']}", headers=other)
    assert refused.status_code == 404
    assert [p["id"] for p in auth_client.get(MINE, headers=owner).get_json()] == [passkey["id"]]
    assert auth_client.delete(f"{MINE}/{passkey['id']}", headers=owner).status_code == 204
    assert auth_client.get(MINE, headers=owner).get_json() == []
    assert auth_client.delete(f"{MINE}/{passkey['id']}", headers=owner).status_code == 404
    gone = passkey_login(auth_client, key)
    assert gone.status_code == 401 and "not registered" in message(gone)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", f"{MINE}/register/begin"),
        ("post", f"{MINE}/register/finish"),
        ("get", MINE),
        ("delete", f"{MINE}/1"),
    ],
)
def test_managing_passkeys_needs_a_signed_in_user(auth_client, method, path):
    response = getattr(auth_client, method)(path, json={"credential": {}, "name": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"response": "nope"},
        {"response": {"clientDataJSON": "***"}},
        {"response": {"clientDataJSON": b64url(b"not json")}},
        {"response": {"clientDataJSON": b64url(b'{"type": "webauthn.get"}')}},
        {"response": {"clientDataJSON": b64url(json.dumps([1, 2]).encode())}},
    ],
)
def test_malformed_credentials_get_a_clear_400(auth_client, credential):
    response = finish_login(auth_client, credential)
    assert response.status_code == 400 and "malformed passkey response" in message(response)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ("clientDataJSON", "authenticatorData", "signature", "userHandle", "id", "rawId")
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def registered_key(auth_app, auth_client, users) -> SoftwareAuthenticator:
    """An authenticator whose passkey is registered (one for every hypothesis example)."""
    key = SoftwareAuthenticator(ORIGIN)
    headers = bearer(auth_app, users("fuzz@example.com"))
    assert register(auth_client, headers, key).status_code == 201
    return key


@pytest.fixture
def fuzz_headers(auth_app, users) -> dict[str, str]:
    """Bearer headers of one user for every hypothesis example."""
    return bearer(auth_app, users("fuzz-register@example.com"))


@FUZZ
@given(field=st.sampled_from(FIELDS), junk=st.binary(max_size=80) | JSON)
def test_a_tampered_assertion_is_refused_never_a_500(auth_client, registered_key, field, junk):
    with ocore_auth.auth(auth_client.application).engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM auth_throttle")  # each example is its own attempt
    assertion = registered_key.get(begin_login(auth_client))
    value = b64url(junk) if isinstance(junk, bytes) else junk
    holder = assertion if field in ("id", "rawId") else assertion["response"]
    holder[field] = value
    response = finish_login(auth_client, assertion)
    if field == "userHandle" and value in (None, ""):  # optional: absent is fine
        assert response.status_code == 200
    else:
        assert response.status_code in (400, 401), (field, response.status_code)
        assert "message" in response.get_json()


@FUZZ
@given(
    field=st.sampled_from(("clientDataJSON", "attestationObject", "id", "rawId")),
    junk=st.binary(max_size=120) | JSON,
)
def test_a_tampered_registration_is_refused_never_a_500(auth_client, fuzz_headers, field, junk):
    headers = fuzz_headers
    begin = auth_client.post(f"{MINE}/register/begin", headers=headers).get_json()
    credential = SoftwareAuthenticator(ORIGIN).create(begin)
    holder = credential if field in ("id", "rawId") else credential["response"]
    holder[field] = b64url(junk) if isinstance(junk, bytes) else junk
    body = {"credential": credential, "name": "Fuzz"}
    response = auth_client.post(f"{MINE}/register/finish", headers=headers, json=body)
    assert response.status_code == 400, (field, response.status_code)
    assert auth_client.get(MINE, headers=headers).get_json() == []


@FUZZ
@given(credential=JSON)
def test_any_json_as_a_credential_gets_a_4xx(auth_client, credential):
    response = finish_login(auth_client, credential)
    assert response.status_code in (400, 422), response.status_code


def test_request_shapes_are_validated(auth_app, auth_client, users):
    headers = bearer(auth_app, users("o@example.com"))
    assert auth_client.post(LOGIN_FINISH, json={}).status_code == 422
    assert auth_client.post(LOGIN_BEGIN, json={"email": "x" * 300}).status_code == 422
    for name in ("", "   ", "a" * 65, "tab\there"):
        body = {"credential": {}, "name": name}
        response = auth_client.post(f"{MINE}/register/finish", headers=headers, json=body)
        assert response.status_code == 422, name


def test_the_endpoints_are_in_the_openapi_document(auth_client):
    paths = auth_client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        LOGIN_BEGIN,
        LOGIN_FINISH,
        MINE,
        f"{MINE}/register/begin",
        f"{MINE}/register/finish",
        MINE + "/{passkey_id}",
    ):
        assert path in paths, path
    assert paths[MINE]["get"]["security"]


# -- a real server -------------------------------------------------------------------------


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_ceremonies_through_gunicorn_with_two_workers(auth_app, auth_env, users, key):
    """Begin and finish may land on different workers: the challenge lives in PostgreSQL."""
    headers = bearer(auth_app, users("p@example.com", "admin"))
    port = free_port()
    argv = [script("gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"]
    env = base_env(auth_env)
    with ServerProcess(argv, env, port) as server:
        status, options = _post(f"{server.url}{MINE}/register/begin", {}, headers)
        assert status == 200, options
        body = {"credential": key.create(options), "name": "Phone"}
        status, passkey = _post(f"{server.url}{MINE}/register/finish", body, headers)
        assert status == 201, passkey
        for _ in range(4):
            status, options = _post(f"{server.url}{LOGIN_BEGIN}", {"email": "p@example.com"})
            assertion = {"credential": key.get(options)}
            status, tokens = _post(f"{server.url}{LOGIN_FINISH}", assertion)
            assert status == 200 and tokens["token_type"] == "Bearer", tokens
        status, refused = _post(f"{server.url}{LOGIN_FINISH}", assertion)
        assert status == 400 and "already used" in refused["message"]
        status, refused = _post(
            f"{server.url}{LOGIN_FINISH}",
            {"credential": key.get(_post(f"{server.url}{LOGIN_BEGIN}", {})[1], counter=1)},
        )
        assert status == 401 and "cloned" in refused["message"]
    assert stored_counter(auth_app, passkey["id"])[0] == 4


def test_failed_passkey_logins_throttle_the_address(auth_app, auth_client, users, key):
    """Bad assertions count against the client address like wrong passwords do."""
    from ocore_auth.throttle import ADDRESS_FACTOR

    assert (
        register(auth_client, bearer(auth_app, users("gone@example.com")), key).status_code == 201
    )
    with ocore_auth.auth(auth_app).engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM auth_passkeys")  # the key is now unknown here
    free = ocore_auth.auth(auth_app).settings.login_free_attempts * ADDRESS_FACTOR
    codes = []
    for _ in range(free + 2):
        begin = auth_client.post(LOGIN_BEGIN, json={})
        if begin.status_code == 429:
            codes.append(429)
            break
        assertion = key.get(begin.get_json())
        codes.append(auth_client.post(LOGIN_FINISH, json={"credential": assertion}).status_code)
    assert codes[:free] == [401] * free and codes[-1] == 429
    blocked = auth_client.post(LOGIN_BEGIN, json={})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
