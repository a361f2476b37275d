"""What the schemathesis tests share: the case type, the checks every answer must pass,
how examples are drawn, and how a generated case reaches the app's TestClient.

Requests go through the test's own TestClient: ``from_asgi`` would run the app's lifespan
a second time, which this app does not survive (see ``test_api_openapi.py``).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis import Case as AnyCase
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.app import Api, Merchant

Case = AnyCase[APIOperation[Any, Any, Any, Any]]
# No 5xx, and the status code, content type and body as the OpenAPI document declares.
DOCUMENTED: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CLIENT_ARGUMENTS = ("method", "url", "headers", "params", "content", "json", "data")
UNUSED_WHEN_EMPTY = ("cookies", "files")


def examples(count: int) -> settings:
    """``count`` derandomized examples, no deadline, no example database, no health check."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def cases(
    operation: Any, mode: GenerationMode, real_ids: dict[str, str]
) -> st.SearchStrategy[Case]:
    """Cases of ``operation``; positive ones also with the path parameters of real objects."""
    strategy: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)
    wanted = {
        p.name: real_ids[p.name]
        for p in operation.path_parameters
        if p.name in real_ids and mode is GenerationMode.POSITIVE
    }
    if wanted:
        real: st.SearchStrategy[Case] = operation.as_strategy(
            generation_mode=mode, path_parameters=wanted
        )
        strategy = st.one_of(strategy, real)
    return strategy


def send(api: Api, case: Case, merchant: Merchant) -> Any:
    """Send the case through the test's TestClient with the merchant's test key."""
    prepared = case.as_transport_kwargs(headers=merchant.headers())
    unexpected = set(prepared) - set(CLIENT_ARGUMENTS) - set(UNUSED_WHEN_EMPTY)
    assert not unexpected, f"transport arguments not passed on: {unexpected}"
    for name in UNUSED_WHEN_EMPTY:
        assert not prepared.get(name), f"{name} generated but not sent: {prepared[name]}"
    arguments = {k: v for k, v in prepared.items() if k in CLIENT_ARGUMENTS}
    if isinstance(arguments.get("data"), bytes | str):  # raw bodies go as content in httpx
        arguments["content"] = arguments.pop("data")
    return api.client.request(**arguments)
