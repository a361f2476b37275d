"""Schemathesis on send and share: no 5xx for generated input, answers as documented.

The dev outbox stands in for every channel, so generated sends succeed or are refused
for their input; never a 5xx (a 502 would mean a provider failed: there is none here).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode

from tests.support.app import Api, MakeApi
from tests.support.fuzzing import DOCUMENTED, Case, cases, examples, send

# The same count under every profile: the positive runs must reach the real link, which
# these 20 derandomized examples do (fewer need not).
EXAMPLES = examples(20)


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
    statuses: list[int] = []

    @given(case=cases(operation, mode, {"link_id": link["id"]}))
    @EXAMPLES
    def run(case: Case) -> None:
        response = send(api, case, merchant)
        statuses.append(response.status_code)
        case.validate_response(response, checks=DOCUMENTED)

    run()

    assert statuses, "no request was generated"
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses, statuses
