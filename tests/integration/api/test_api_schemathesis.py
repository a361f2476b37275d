"""Schemathesis against the app's own OpenAPI document (SQLite, a modest example count).

For every operation of the merchant API, in positive and negative generation modes:
no 5xx for any generated input, and every response conforms to the document (status
code declared, content type, body schema, headers). Requests carry a valid test key.

The schema is loaded with ``from_dict(app.openapi())`` and requests go through the
test's own TestClient: ``from_asgi`` would run the app's lifespan a second time, which
this app does not survive (see ``test_api_openapi.py``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import (
    response_headers_conformance,
    status_code_conformance,
)

from tests.integration.api.support import assert_problem
from tests.support.app import Api, MakeApi, Merchant
from tests.support.examples import scaled
from tests.support.fuzzing import DOCUMENTED, Case, cases, examples, send

OPERATIONS = [
    ("POST", "/v1/links"),
    ("POST", "/v1/links/batch"),
    ("GET", "/v1/links"),
    ("GET", "/v1/links/{link_id}"),
    ("POST", "/v1/links/{link_id}/cancel"),
    ("PATCH", "/v1/links/{link_id}"),
    ("POST", "/v1/links/{link_id}/deactivate"),
    ("POST", "/v1/links/{link_id}/reactivate"),
    ("POST", "/v1/links/{link_id}/duplicate"),
    ("GET", "/v1/payments"),
    ("GET", "/v1/payments/{payment_id}"),
    ("GET", "/v1/balances"),
    ("GET", "/v1/account/branding"),
    ("PUT", "/v1/account/branding"),
    ("DELETE", "/v1/account/branding/logo"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]
CHECKS: list[CheckFunction] = [*DOCUMENTED, response_headers_conformance]
# Known gaps between what the app answers and what its OpenAPI document declares, each
# pinned by a strict xfail elsewhere. Here the status-code check is narrowed for them
# only, and the body is still checked by hand:
# - POST /v1/links answers 200 (a repeated reference_id returns the first link), but
#   only 201 is declared (test_api_openapi.py).
# - a POST body that is not UTF-8 answers 400 /problems/http-error, not declared
#   (test_api_errors.py::test_a_body_that_is_not_a_json_object_is_a_422_problem[not-utf8]).
UNDECLARED: dict[tuple[str, int], str] = {
    ("POST /v1/links", 200): "payment_link",
    ("POST /v1/links", 400): "problem",
    ("POST /v1/links/{link_id}/cancel", 400): "problem",
    ("POST /v1/links/{link_id}/deactivate", 400): "problem",
    ("PATCH /v1/links/{link_id}", 400): "problem",
}
EXAMPLES = examples(scaled(25))


def _validate(case: Case, response: Any) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    shape = UNDECLARED.get((label, response.status_code))
    if shape is None:
        case.validate_response(response, checks=CHECKS)
        return
    narrowed = [check for check in CHECKS if check is not status_code_conformance]
    case.validate_response(response, checks=narrowed)
    if shape == "problem":
        assert_problem(response, response.status_code)
    else:
        assert response.json()["object"] == shape


@pytest.fixture
def fuzzed(make_sqlite_api: MakeApi) -> tuple[Api, Merchant, dict[str, str]]:
    """The app (rate limit off, 5xx as responses) with a merchant who has a link and a payment."""
    api = make_sqlite_api(raise_server_exceptions=False, rate_limit_per_s=0)
    merchant = api.merchant()
    link = api.create_link(merchant, usage_limit=None, reference_id="INV-2026-0042")
    payment = api.paylink.payments.start(UUID(link["id"]), "qris")
    api.catch_up()
    return api, merchant, {"link_id": link["id"], "payment_id": str(payment)}


CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # they take no input at all
    if path not in ("/healthz", "/readyz") or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_get_no_5xx_and_responses_that_match_the_openapi_document(
    fuzzed: tuple[Api, Merchant, dict[str, str]],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    api, merchant, real_ids = fuzzed
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    operation = schema[path][method]
    statuses: list[int] = []

    @given(case=cases(operation, mode, real_ids))
    @EXAMPLES
    def run(case: Case) -> None:
        response = send(api, case, merchant)
        statuses.append(response.status_code)
        _validate(case, response)

    run()

    assert statuses, "no request was generated"
