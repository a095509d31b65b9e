"""schemathesis against the served OpenAPI document: no 500, no response outside the schema,
under every credential of its bearer scheme (``healthToken``): the current and the previous
token (200, the rich payload), a wrong or an empty one (401), and none (200, anonymous).

The operation has no parameters, so schemathesis alone would generate one request; the
credential is drawn by hypothesis, each one applied by a schemathesis auth provider."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.auths import AuthStorage

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, make_app

PREVIOUS_TOKEN = "prev-health-Wq4Er7Ty1Ui5Op8As2Df6Gh9Jk"
app = make_app(
    [],
    {
        "ENVIRONMENT": "development",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "HEALTH_CHECK_TOKEN_PREVIOUS": PREVIOUS_TOKEN,
    },
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)

# credential -> (bearer token or None for no Authorization header, the status it must get)
CREDENTIALS: dict[str, tuple[str | None, int]] = {
    "current": (HEALTH_TOKEN, 200),
    "previous": (PREVIOUS_TOKEN, 200),
    "wrong": (HEALTH_TOKEN[:-1] + "X", 401),
    "empty": ("", 401),
    "none": (None, 200),
}


def bearer(token: str | None) -> AuthStorage | None:
    """The ``healthToken`` scheme with ``token`` (None: no auth at all, so no header)."""
    if token is None:
        return None
    storage: AuthStorage = AuthStorage()

    @storage.auth(refresh_interval=None)
    class HealthToken:
        def get(self, case: Any, context: Any) -> str:
            return token

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return storage


AUTH = {name: bearer(token) for name, (token, _) in CREDENTIALS.items()}
cases = st.sampled_from(sorted(CREDENTIALS)).flatmap(
    lambda name: schema.as_strategy(auth_storage=AUTH[name]).map(lambda case: (name, case))
)


def test_api_conforms_to_its_schema_under_every_credential() -> None:
    statuses: Counter[int] = Counter()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(cases)
    def check(drawn: tuple[str, Any]) -> None:
        name, case = drawn
        response = case.call_and_validate()
        if case.operation.path == "/api/health":  # the operation the scheme guards
            assert response.status_code == CREDENTIALS[name][1], name
            statuses[response.status_code] += 1

    check()
    assert statuses[200] and statuses[401], dict(statuses)
