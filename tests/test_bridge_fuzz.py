"""Schemathesis fuzzes the bridge's published OpenAPI description against the live server, with
data that fits the schema and data that does not: whatever it sends, the answer is never a 5xx.

(Driven through Hypothesis directly: schemathesis' pytest plugin does not run under pytest 9.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

EXAMPLES = 25  # per operation and mode


def test_no_server_errors(bridge):
    schema = schemathesis.openapi.from_url(f"{bridge.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"GET /v1/health", "POST /v1/segment", "POST /v1/jobs",
                                                "GET /v1/jobs/{job_id}", "DELETE /v1/jobs/{job_id}", "POST /v1/submit"}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def fuzz(case):
                case.call_and_validate(checks=[not_a_server_error], timeout=60)

            try:
                fuzz()
            except Unsatisfiable:  # no input to make invalid (GET /v1/health)
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert bridge.client.health()["status"] == "ok"
