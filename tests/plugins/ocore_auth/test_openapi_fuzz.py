"""schemathesis against every auth operation of the served OpenAPI document: whatever the body,
the answer is never a 500 and always one the document declares, anonymous or signed in."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from ocore_auth.testing import bearer


def test_auth_operations_never_fail_with_a_server_error(auth_app, users) -> None:
    headers = bearer(auth_app, users("fuzz-admin@example.com", "admin"))
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", auth_app)
    operations = schema.include(path_regex=r"^/api/(auth|user)/")
    signed_in = st.booleans()
    statuses: Counter[int] = Counter()
    paths: set[str] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operations.as_strategy(), signed_in)
    def check(case: Any, with_token: bool) -> None:
        if with_token:
            case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        case.validate_response(response, checks=(not_a_server_error, status_code_conformance))
        statuses[response.status_code] += 1
        paths.add(case.operation.path)

    check()
    assert statuses[500] == 0
    assert len(paths) >= 6, paths
    assert any(400 <= code < 500 for code in statuses), dict(statuses)
