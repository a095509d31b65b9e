"""``/api/user/ssh-keys``: the signed-in user's own keys, JSON errors for bad input."""

from __future__ import annotations

from pathlib import Path

from ocore_auth.testing import bearer, create_user
from ocore_gateway.testing import keygen

URL = "/api/user/ssh-keys"


def test_needs_a_signed_in_user(gateway_app):
    client = gateway_app.test_client()
    assert client.get(URL).status_code == 401
    assert client.post(URL, json={"public_key": "x"}).status_code == 401
    assert client.delete(f"{URL}/1").status_code == 401


def test_add_list_and_delete_own_keys(gateway_app, tmp_path: Path):
    client = gateway_app.test_client()
    alice = bearer(gateway_app, create_user(gateway_app, "alice@example.com", "viewer"))
    bob = bearer(gateway_app, create_user(gateway_app, "bob@example.com", "viewer"))
    key = keygen(tmp_path, "alice")

    added = client.post(URL, json={"public_key": key.public_line}, headers=alice)
    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert body["fingerprint"] == key.fingerprint and body["algorithm"] == "ssh-ed25519"
    assert body["warning"] is None and body["comment"] == "alice@test"
    assert "PRIVATE" not in added.get_data(as_text=True)

    mine = client.get(URL, headers=alice).get_json()
    assert [k["id"] for k in mine] == [body["id"]]
    assert client.get(URL, headers=bob).get_json() == []

    dup = client.post(URL, json={"public_key": key.public_line}, headers=bob)
    assert dup.status_code == 409
    assert "already registered" in dup.get_json()["message"]
    assert "alice" not in dup.get_json()["message"]  # never whose key it is

    assert client.delete(f"{URL}/{body['id']}", headers=bob).status_code == 404
    assert client.delete(f"{URL}/{body['id']}", headers=alice).status_code == 204
    assert client.get(URL, headers=alice).get_json() == []


def test_bad_keys_are_422_with_the_reason(gateway_app, tmp_path: Path):
    client = gateway_app.test_client()
    carol = bearer(gateway_app, create_user(gateway_app, "carol@example.com", "operator"))
    garbage = client.post(URL, json={"public_key": "ssh-ed25519 @@@"}, headers=carol)
    assert garbage.status_code == 422
    assert "not valid base64" in garbage.get_json()["message"]
    weak = keygen(tmp_path, "weak", "rsa", 1024)
    refused = client.post(URL, json={"public_key": weak.public_line}, headers=carol)
    assert refused.status_code == 422 and "at least 2048" in refused.get_json()["message"]
    assert client.post(URL, json={}, headers=carol).status_code == 422
    rsa = keygen(tmp_path, "rsa", "rsa", 2048)
    warned = client.post(URL, json={"public_key": rsa.public_line}, headers=carol)
    assert warned.status_code == 201 and "2048 bits" in warned.get_json()["warning"]


def test_documented_in_openapi(gateway_app):
    spec = gateway_app.test_client().get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths[URL]) >= {"get", "post"}
    assert "delete" in paths[URL + "/{key_id}"]
    assert paths[URL]["post"]["security"]
