"""``/api/health``: the anonymous, rich and refused views, every header shape."""

from __future__ import annotations

import threading
import time

import pytest

from ocore_flask.health import HealthContributor, fail, ok
from ocore_flask.health.contributor import RESERVED_NAMES
from ocore_flask.health.service import BUILD_COMMIT_FILE
from ocore_flask.plugin import Plugin
from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET

PREVIOUS_TOKEN = "prev-health-Zx9Cv8Bn7Mq6Wr5Et4Yu3Io2Pa1Sd0F"


class Counting:
    """A plugin whose contributor counts its calls."""

    def __init__(self, *, critical_status: str = "ok") -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.critical_status = critical_status
        contributor = HealthContributor("counting", self._check, critical=True, timeout=1.0)
        self.plugin = Plugin("counting", hooks={"health_contributors": lambda: [contributor]})

    def _check(self):
        with self.lock:
            self.calls += 1
        return ok({"calls": self.calls}) if self.critical_status == "ok" else fail("down")


def _env(**extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        **extra,
    }


@pytest.fixture
def plugin():
    return Counting()


@pytest.fixture
def client(make_app, plugin):
    return make_app(_env(HEALTH_CHECK_TOKEN_PREVIOUS=PREVIOUS_TOKEN), [plugin.plugin]).test_client()


def test_anonymous_is_exactly_ok_no_store_and_runs_nothing(client, plugin):
    for _ in range(100):
        response = client.get("/api/health")
        assert response.status_code == 200
        assert response.data == b'{"status":"ok"}'
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "application/json"
    assert plugin.calls == 0


def test_head_is_allowed_and_has_no_body(client, plugin):
    response = client.head("/api/health")
    assert response.status_code == 200 and response.data == b""
    assert plugin.calls == 0


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_other_methods_get_405_with_allow(client, method):
    response = getattr(client, method)("/api/health")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {HEALTH_TOKEN}",
        f"bearer {HEALTH_TOKEN}",
        f"BEARER  {HEALTH_TOKEN} ",
        f"Bearer {PREVIOUS_TOKEN}",
    ],
)
def test_valid_tokens_get_the_rich_payload(client, plugin, header):
    response = client.get("/api/health", headers={"Authorization": header})
    assert response.status_code == 200
    body = response.json
    assert set(body) == RESERVED_NAMES and next(iter(body)) == "status"
    assert body["status"] == "ok" and body["environment"] == "development"
    baked = BUILD_COMMIT_FILE.read_text().strip() if BUILD_COMMIT_FILE.exists() else "unknown"
    assert body["commit"] == baked
    section = body["checks"]["counting"]
    assert section["status"] == "ok" and section["critical"] is True
    assert {"duration_ms", "observed_at", "data"} <= set(section)
    assert response.headers["Cache-Control"] == "no-store"
    assert plugin.calls == 1


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearer wrong",
        f"Bearer {HEALTH_TOKEN[:-1]}",
        f"Bearer {HEALTH_TOKEN[:-1]}X",
        f"Bearer {HEALTH_TOKEN}x",
        f"Bearer {HEALTH_TOKEN.upper()}",
        "Bearer " + "A" * 8192,
        "Bearer caf\xe9-\xff\xfe",
        f"Bearer {HEALTH_TOKEN}, Bearer {HEALTH_TOKEN}",
    ],
)
def test_wrong_or_empty_bearer_tokens_are_refused_without_details(client, plugin, header):
    response = client.get("/api/health", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json == {"error": "unauthorized"}
    assert HEALTH_TOKEN not in response.get_data(as_text=True)
    assert plugin.calls == 0


@pytest.mark.parametrize("header", ["", "Basic dXNlcjpwYXNz", "Token abc", "Digest x", "   "])
def test_non_bearer_authorization_is_anonymous(client, plugin, header):
    response = client.get("/api/health", headers={"Authorization": header})
    assert response.status_code == 200 and response.data == b'{"status":"ok"}'
    assert plugin.calls == 0


def test_token_in_the_query_string_is_ignored(client, plugin):
    response = client.get(f"/api/health?token={HEALTH_TOKEN}&access_token={HEALTH_TOKEN}")
    assert response.data == b'{"status":"ok"}' and plugin.calls == 0


def test_any_bearer_is_refused_while_no_token_is_configured(make_app, plugin):
    client = make_app(
        {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET}, [plugin.plugin]
    ).test_client()
    response = client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    assert response.status_code == 401 and plugin.calls == 0
    assert client.get("/api/health").status_code == 200


def test_critical_failure_gives_503_with_the_payload(make_app):
    client = make_app(_env(), [Counting(critical_status="fail").plugin]).test_client()
    response = client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert response.json["checks"]["counting"]["message"] == "down"
    assert client.get("/api/health").status_code == 200


def test_commit_comes_from_ocore_commit(make_app, plugin):
    client = make_app(_env(OCORE_COMMIT="3f2c1ab"), [plugin.plugin]).test_client()
    body = client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}).json
    assert body["commit"] == "3f2c1ab"


def test_no_configured_secret_appears_in_the_rich_payload(make_app):
    leaky = HealthContributor(
        "leaky",
        lambda: ok(
            {
                "echo": f"jwt={JWT_SECRET} token {HEALTH_TOKEN}",
                "url": "postgres://u:Pa55-Word@db/x",
                "authorization": f"Bearer {HEALTH_TOKEN}",
            }
        ),
    )
    plugin = Plugin("leaky", hooks={"health_contributors": lambda: [leaky]})
    client = make_app(_env(), [plugin]).test_client()
    text = client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}).get_data(
        as_text=True
    )
    for secret in (JWT_SECRET, HEALTH_TOKEN, "Pa55-Word"):
        assert secret not in text


def test_cache_window_runs_each_contributor_once_for_concurrent_callers(make_app):
    plugin = Counting()
    client_app = make_app(_env(HEALTH_CACHE_TTL="5s"), [plugin.plugin])
    headers = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
    statuses = []

    def call():
        statuses.append(client_app.test_client().get("/api/health", headers=headers).status_code)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 50
    assert plugin.calls == 1


def test_hung_contributor_is_reported_as_timed_out_in_time(make_app):
    release = threading.Event()

    hung = HealthContributor("hung", lambda: release.wait(30) and ok(), timeout=0.5)
    plugin = Plugin("hung", hooks={"health_contributors": lambda: [hung]})
    client = make_app(_env(), [plugin]).test_client()
    started = time.monotonic()
    response = client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 1.0
    section = response.json["checks"]["hung"]
    assert section["status"] == "fail" and "timed out" in section["message"]
    assert response.status_code == 200  # not critical: degraded, not down
    assert response.json["status"] == "degraded"


def test_health_timeout_setting_caps_contributor_timeouts(make_app):
    release = threading.Event()

    slow = HealthContributor("slow", lambda: release.wait(30) and ok(), timeout=10)
    plugin = Plugin("slow", hooks={"health_contributors": lambda: [slow]})
    client = make_app(_env(HEALTH_TIMEOUT="300ms"), [plugin]).test_client()
    started = time.monotonic()
    client.get("/api/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    release.set()
    assert time.monotonic() - started < 0.8


def test_openapi_documents_the_endpoint(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/health"]["get"]
    assert {"200", "401", "503"} <= set(operation["responses"])
