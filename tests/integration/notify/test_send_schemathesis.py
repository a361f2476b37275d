"""Schemathesis on send and share: no 5xx for generated input, answers as documented.

The dev outbox stands in for every channel, so generated sends succeed or are refused
for their input; never a 5xx (a 502 would mean a provider failed: there is none here).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis import Case as AnyCase
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.app import Api, MakeApi

Case = AnyCase[APIOperation[Any, Any, Any, Any]]
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The same count under every profile: the positive runs must reach the real link, which
# these 20 derandomized examples do (fewer need not).
EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [
        pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
        for method, path in (
            ("POST", "/v1/links/{link_id}/send"),
            ("GET", "/v1/links/{link_id}/share"),
        )
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ],
)
def test_generated_sends_and_shares_get_no_5xx_and_documented_answers(
    make_sqlite_send_api: MakeApi, method: str, path: str, mode: GenerationMode
) -> None:
    api: Api = make_sqlite_send_api(rate_limit_per_s=0)
    merchant = api.merchant()
    link = api.create_link(merchant, amount=150000, description="Kaos", usage_limit=None)
    operation = schemathesis.openapi.from_dict(api.app.openapi())[path][method]
    strategy: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        real: st.SearchStrategy[Case] = operation.as_strategy(
            generation_mode=mode, path_parameters={"link_id": link["id"]}
        )
        strategy = st.one_of(strategy, real)
    statuses: list[int] = []

    @given(case=strategy)
    @EXAMPLES
    def run(case: Case) -> None:
        prepared = case.as_transport_kwargs(headers=merchant.headers())
        arguments = {
            k: v
            for k, v in prepared.items()
            if k in ("method", "url", "headers", "params", "content", "json", "data")
        }
        if isinstance(arguments.get("data"), bytes | str):
            arguments["content"] = arguments.pop("data")
        response = api.client.request(**arguments)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()

    assert statuses, "no request was generated"
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses, statuses
