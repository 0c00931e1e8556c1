"""Schemathesis over the service's own OpenAPI with an admin key: no 5xx, responses match.

Every operation gets at most 20 generated cases (shrinking off: a failure still
names its case), so the run stays within a couple of minutes. The admin key
reaches every route; the per-address limit is out of the way (it has its own
tests). Schemathesis drives the app in-process through its ASGI interface.
"""

from __future__ import annotations

import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from app.api.keys import Role, create_key
from app.main import create_app

CASES_PER_OPERATION = 20
# An admitted caller of the live stream gets events until it hangs up; its
# authorisation is covered by the route walk.
ENDLESS = {"/api/v1/stream"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_no_5xx_and_responses_match_the_schema(settings_for_schemathesis, session):
    app = create_app(settings_for_schemathesis)
    _row, plain = create_key(session, "schemathesis", Role.ADMIN)
    headers = {"Authorization": f"Bearer {plain}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    cases = 0
    operations = 0
    timings: list[tuple[float, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ENDLESS:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES_PER_OPERATION,
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        started = time.monotonic()
        try:
            run()
        except BaseException as exc:  # schemathesis raises a BaseExceptionGroup
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:600]}")
        timings.append((time.monotonic() - started, operation.label))
    print(f"schemathesis: {operations} operations, {cases} cases")  # noqa: T201
    print("slowest:", sorted(timings)[-3:])  # noqa: T201
    assert operations >= 60
    assert not failures, "\n\n".join(failures)
