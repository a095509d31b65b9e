"""schemathesis against the served OpenAPI document: no 500, no response outside the schema,
with and without the bearer token."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from ocore_flask.testing import HEALTH_TOKEN, JWT_SECRET, make_app

app = make_app(
    [], {"ENVIRONMENT": "development", "JWT_SECRET": JWT_SECRET, "HEALTH_CHECK_TOKEN": HEALTH_TOKEN}
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate()


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_with_the_token(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
