"""schemathesis against every operation of the served OpenAPI document with every first-party
plugin installed (auth, agents, gateway, health…): whatever the body, path or query, the
answer is never a 500 and always one the document declares, anonymous or as an admin."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from ocore_auth.testing import bearer, create_user
from ocore_database.testing import first_party_plugins


def test_no_operation_of_any_plugin_fails_with_a_server_error(make_app, app_env) -> None:
    app: Flask = make_app({**app_env, "HEALTH_CACHE_TTL": "0s"}, first_party_plugins())
    admin = bearer(app, create_user(app, "fuzz-admin@example.com", "admin"))
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    statuses: Counter[int] = Counter()
    paths: set[str] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(schema.as_strategy(), st.booleans())
    def check(case: Any, as_admin: bool) -> None:
        if as_admin:
            case.headers = {**(case.headers or {}), **admin}
        response = case.call()
        case.validate_response(response, checks=(not_a_server_error, status_code_conformance))
        statuses[response.status_code] += 1
        paths.add(case.operation.path)

    check()
    assert statuses[500] == 0
    assert {p.split("/")[2] for p in paths} >= {"auth", "user", "agents", "health"}, paths
    assert any(200 <= code < 300 for code in statuses), dict(statuses)
    assert any(400 <= code < 500 for code in statuses), dict(statuses)
