"""Errors: problem documents with a stable type, the field named, nothing stored, no traces."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.settings import Settings
from tests.integration.api.support import UNKNOWN_ID, ExplodingPaylink, assert_problem, require
from tests.support.app import Api, MakeApi

GOOD = {"amount": 150000, "description": "Kaos polos hitam"}
ABSENT = object()

# (what is wrong, changes to a good body, the field the 422 must name)
BAD_LINKS: list[tuple[str, dict[str, Any], str]] = [
    ("zero amount", {"amount": 0}, "amount"),
    ("negative amount", {"amount": -1}, "amount"),
    ("fractional amount", {"amount": 1.5}, "amount"),
    ("amount as text", {"amount": "100"}, "amount"),
    ("amount as boolean", {"amount": True}, "amount"),
    ("amount above the limit", {"amount": 10**14}, "amount"),
    ("unknown currency", {"currency": "XYZ"}, "currency"),
    ("lower-case currency", {"currency": "idr"}, "currency"),
    (
        "minimum above maximum",
        {"amount": ABSENT, "amount_min": 5000, "amount_max": 1000},
        "amount_min",
    ),
    ("fixed amount and a range", {"amount_min": 1000}, "amount"),
    ("expiry in the past", {"expires_at": "2026-01-05T09:59:59+07:00"}, "expires_at"),
    ("expiry without offset", {"expires_at": "2026-02-01T10:00:00"}, "expires_at"),
    ("expiry too far ahead", {"expires_at": "2027-06-01T10:00:00+07:00"}, "expires_at"),
    ("expiry that is no date", {"expires_at": "next week"}, "expires_at"),
    ("usage limit zero", {"usage_limit": 0}, "usage_limit"),
    ("negative usage limit", {"usage_limit": -3}, "usage_limit"),
    ("empty description", {"description": ""}, "description"),
    ("blank description", {"description": "   "}, "description"),
    ("missing description", {"description": ABSENT}, "description"),
    ("10 kB description", {"description": "x" * 10_240}, "description"),
    ("NUL in description", {"description": "Kaos\x00hitam"}, "description"),
    ("escape in description", {"description": "Kaos\x1b[31mhitam"}, "description"),
    ("zero-width space in description", {"description": "Kaos\u200bhitam"}, "description"),
    ("bell in customer name", {"customer": {"name": "Budi\x07"}}, "customer.name"),
    ("unknown payment method", {"methods": ["qris", "bitcoin"]}, "methods[1]"),
    ("no payment method", {"methods": []}, "methods"),
    ("reference with a space", {"reference_id": "INV 1"}, "reference_id"),
    ("65-character reference", {"reference_id": "R" * 65}, "reference_id"),
    ("bad customer e-mail", {"customer": {"email": "budi-at-example"}}, "customer.email"),
    ("bad customer phone", {"customer": {"phone": "12"}}, "customer.phone"),
    ("unknown customer field", {"customer": {"age": 30}}, "customer.age"),
    ("success URL not http", {"success_url": "ftp://shop.example/ok"}, "success_url"),
    ("metadata value not text", {"metadata": {"order": 42}}, "metadata.order"),
    (
        "line item of zero quantity",
        {"line_items": [{"name": "Kaos", "quantity": 0, "unit_amount": 150000}]},
        "line_items[0].quantity",
    ),
    ("unknown top-level field", {"colour": "black"}, "colour"),
]


def _body(changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**GOOD, **changes}
    return {key: value for key, value in merged.items() if value is not ABSENT}


@pytest.mark.parametrize(
    ("changes", "field"),
    [pytest.param(changes, field, id=why) for why, changes, field in BAD_LINKS],
)
def test_a_bad_link_field_is_a_422_problem_that_names_it_and_stores_nothing(
    sqlite_api: Api, changes: dict[str, Any], field: str
) -> None:
    merchant = sqlite_api.merchant()
    events = sqlite_api.head()

    response = sqlite_api.client.post("/v1/links", json=_body(changes), headers=merchant.headers())

    assert_problem(response, 422, field=field)
    assert sqlite_api.head() == events


def test_bad_input_stores_nothing_on_either_backend(api: Api) -> None:
    merchant = api.merchant()
    events = api.head()

    for why, changes, field in BAD_LINKS:
        response = api.client.post("/v1/links", json=_body(changes), headers=merchant.headers())
        assert response.status_code == 422, why
        assert response.json()["field"] == field, why

    assert api.head() == events


def test_each_kind_of_domain_error_has_its_own_stable_type(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()
    kinds: dict[str, dict[str, Any]] = {
        "amount-invalid": {"amount": 0},
        "currency-unsupported": {"currency": "XYZ"},
        "amount-range-invalid": {"amount": ABSENT, "amount_min": 9, "amount_max": 1},
        "expiry-invalid": {"expires_at": "2020-01-01T00:00:00+07:00"},
        "usage-limit-invalid": {"usage_limit": 0},
        "text-invalid": {"description": " "},
        "payment-method-unknown": {"methods": ["bitcoin"]},
        "validation-error": {"colour": "black"},
    }

    for slug, changes in kinds.items():
        response = sqlite_api.client.post(
            "/v1/links", json=_body(changes), headers=merchant.headers()
        )
        assert_problem(response, 422, slug)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        (b"null", "body"),
        (b'{"amount": 1', "body"),
        (b'{"amount": 1000, "description": "\xd3\xca"}', "body"),
    ],
    ids=["array", "string", "null", "malformed", "not-utf8"],
)
def test_a_body_that_is_not_a_json_object_is_a_422_problem(
    sqlite_api: Api, content: bytes, field: str
) -> None:
    merchant = sqlite_api.merchant()

    response = sqlite_api.client.post(
        "/v1/links",
        content=content,
        headers=merchant.headers(**{"Content-Type": "application/json"}),
    )

    assert_problem(response, 422, field=field)


# -- authentication -------------------------------------------------------------------


def _authorizations(api: Api) -> Iterator[tuple[str, dict[str, str], str]]:
    merchant = api.merchant()
    revoked = api.merchant("Toko Lama")
    api.paylink.merchants.revoke_key(revoked.id, revoked.test_key.key_id)
    secret = merchant.test_key.secret
    yield "missing", {}, "authentication-required"
    yield "basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}, "authentication-required"
    yield "bare secret", {"Authorization": secret}, "authentication-required"
    yield "empty bearer", {"Authorization": "Bearer "}, "authentication-required"
    yield "two words", {"Authorization": f"Bearer {secret} {secret}"}, "authentication-required"
    yield "malformed key", {"Authorization": "Bearer pk_test_abc"}, "api-key-invalid"
    yield "unknown key", {"Authorization": f"Bearer {secret[:-4]}XXXX"}, "api-key-invalid"
    yield "revoked key", revoked.headers(), "api-key-invalid"


ROUTES = [
    ("GET", "/v1/links"),
    ("POST", "/v1/links"),
    ("GET", f"/v1/links/{UNKNOWN_ID}"),
    ("POST", f"/v1/links/{UNKNOWN_ID}/cancel"),
    ("GET", "/v1/payments"),
    ("GET", f"/v1/payments/{UNKNOWN_ID}"),
    ("GET", "/v1/balances"),
]


def test_a_missing_malformed_unknown_or_revoked_key_is_a_401_with_a_challenge(
    sqlite_api: Api,
) -> None:
    for why, headers, slug in _authorizations(sqlite_api):
        for method, path in ROUTES:
            body = GOOD if method == "POST" and path == "/v1/links" else None
            response = sqlite_api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, f"{why} {method} {path}: {response.text}"
            assert_problem(response, 401, slug)
            assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert sqlite_api.count("PaymentLink.Created") == 0


def test_a_request_without_a_key_is_a_401_even_with_malformed_json(sqlite_api: Api) -> None:
    response = sqlite_api.client.post(
        "/v1/links", content=b"{", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 401, "authentication-required")


def test_a_key_that_is_not_sent_as_bearer_is_named_before_the_body_is_judged(
    sqlite_api: Api,
) -> None:
    secret = sqlite_api.merchant().test_key.secret
    cases = {
        "missing": ({}, "send your secret key as 'Authorization: Bearer sk_test_…'"),
        "basic": (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "the Authorization header must be 'Bearer <secret key>'",
        ),
        "bare secret": (
            {"Authorization": secret},
            "the Authorization header must be 'Bearer <secret key>'",
        ),
    }
    for why, (headers, detail) in cases.items():
        response = sqlite_api.client.post(
            "/v1/links",
            content=b"{" + b" " * 2_000_000,  # malformed, and larger than any body we take
            headers={"Content-Type": "application/json", **headers},
        )
        assert_problem(response, 401, "authentication-required")
        assert response.json()["detail"] == detail, why


def test_the_bearer_scheme_is_case_insensitive_on_every_path(sqlite_api: Api) -> None:
    secret = sqlite_api.merchant().test_key.secret
    for scheme in ("bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {secret}"}
        assert sqlite_api.client.get("/v1/links", headers=headers).status_code == 200
        created = sqlite_api.client.post("/v1/links", json=GOOD, headers=headers)  # direct path
        assert created.status_code == 201, created.text


def test_revoking_one_key_leaves_the_merchants_other_keys_working(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()
    assert sqlite_api.client.get("/v1/links", headers=merchant.headers()).status_code == 200

    sqlite_api.paylink.merchants.revoke_key(merchant.id, merchant.test_key.key_id)

    assert_problem(sqlite_api.client.get("/v1/links", headers=merchant.headers()), 401)
    assert sqlite_api.client.get("/v1/links", headers=merchant.headers("live")).status_code == 200


def test_a_key_revoked_by_another_process_stops_working_within_about_a_second(
    api: Api, backend_settings: Settings
) -> None:
    merchant = api.merchant()
    assert api.client.get("/v1/links", headers=merchant.headers()).status_code == 200
    elsewhere = open_paylink(backend_settings)  # e.g. ``paylink keys revoke`` in another process
    try:
        elsewhere.merchants.revoke_key(merchant.id, merchant.test_key.key_id)
    finally:
        elsewhere.close()

    time.sleep(1.2)

    assert_problem(api.client.get("/v1/links", headers=merchant.headers()), 401, "api-key-invalid")
    assert api.client.get("/v1/links", headers=merchant.headers("live")).status_code == 200


def test_the_bearer_scheme_is_case_insensitive(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()

    response = sqlite_api.client.get(
        "/v1/links", headers={"Authorization": f"bearer {merchant.test_key.secret}"}
    )

    assert response.status_code == 200


# -- routing, size and rate limits ------------------------------------------------------


def test_an_unknown_route_is_a_404_problem(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()

    for path in ("/v1/nothing", "/v2/links", f"/v1/links/{UNKNOWN_ID}/refund"):
        assert_problem(sqlite_api.client.get(path, headers=merchant.headers()), 404, "not-found")


def test_a_wrong_method_is_a_405_problem_saying_what_is_allowed(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()

    delete = sqlite_api.client.delete("/v1/links", headers=merchant.headers())
    put = sqlite_api.client.put(f"/v1/links/{UNKNOWN_ID}", headers=merchant.headers())
    get = sqlite_api.client.get(f"/v1/links/{UNKNOWN_ID}/cancel", headers=merchant.headers())

    assert_problem(delete, 405, "method-not-allowed")
    assert set(delete.headers["allow"].replace(" ", "").split(",")) <= {"GET", "POST"}
    assert_problem(put, 405, "method-not-allowed")
    assert put.headers["allow"] == "GET, PATCH"  # a link is read and edited
    assert_problem(get, 405, "method-not-allowed")
    assert get.headers["allow"] == "POST"


def test_a_405_allow_header_lists_every_method_of_the_resource(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()

    delete = sqlite_api.client.delete("/v1/links", headers=merchant.headers())

    assert set(delete.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def _oversized(limit: int) -> bytes:
    return json.dumps({"amount": 1000, "description": "x" * (limit + 10)}).encode()


def test_a_body_over_the_limit_with_content_length_is_a_413_problem(
    make_sqlite_api: MakeApi,
) -> None:
    api = make_sqlite_api(max_body_bytes=2048)
    merchant = api.merchant()
    events = api.head()

    response = api.client.post(
        "/v1/links",
        content=_oversized(2048),
        headers=merchant.headers(**{"Content-Type": "application/json"}),
    )

    assert_problem(response, 413, "payload-too-large")
    assert api.head() == events
    just_fits = json.dumps({"amount": 1000, "description": "y" * 900}).encode()
    assert len(just_fits) <= 2048
    ok = api.client.post(
        "/v1/links",
        content=just_fits,
        headers=merchant.headers(**{"Content-Type": "application/json"}),
    )
    assert ok.status_code == 201, ok.text


def test_a_chunked_body_over_the_limit_is_a_413_problem(make_sqlite_api: MakeApi) -> None:
    api = make_sqlite_api(max_body_bytes=2048)
    merchant = api.merchant()
    body = _oversized(2048)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = api.client.post(
        "/v1/links",
        content=chunks(),
        headers=merchant.headers(**{"Content-Type": "application/json"}),
    )

    require("content-length" not in response.request.headers, "the body went chunked")
    assert_problem(response, 413, "payload-too-large")
    assert api.count("PaymentLink.Created") == 0


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_other_keys_do_not(
    make_sqlite_api: MakeApi,
) -> None:
    api = make_sqlite_api(rate_limit_per_s=4.0, rate_limit_burst=2)
    busy = api.merchant("Toko Sibuk")
    calm = api.merchant("Toko Tenang")

    allowed = [api.client.get("/v1/links", headers=busy.headers()) for _ in range(2)]
    refused = api.client.get("/v1/links", headers=busy.headers())
    refused_post = api.client.post("/v1/links", json=GOOD, headers=busy.headers())
    other_merchant = api.client.get("/v1/links", headers=calm.headers())
    same_merchant_other_key = api.client.get("/v1/links", headers=busy.headers("live"))

    assert [r.status_code for r in allowed] == [200, 200]
    for response in (refused, refused_post):
        assert_problem(response, 429, "rate-limited")
        retry_after = response.headers["retry-after"]
        assert re.fullmatch(r"[1-9][0-9]*", retry_after), retry_after
    assert api.count("PaymentLink.Created") == 0
    assert other_merchant.status_code == 200
    assert same_merchant_other_key.status_code == 200
    time.sleep(0.6)
    assert api.client.get("/v1/links", headers=busy.headers()).status_code == 200


# -- request ids, internal errors, bugs found -------------------------------------------


def test_every_response_carries_a_request_id_and_a_sane_one_is_echoed(
    make_sqlite_api: MakeApi,
) -> None:
    api = make_sqlite_api(rate_limit_per_s=1.0, rate_limit_burst=8, max_body_bytes=2048)
    merchant = api.merchant()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/v1/links", {}),
        ("POST", "/v1/links", {"json": GOOD}),
        ("GET", f"/v1/links/{UNKNOWN_ID}", {}),
        ("POST", "/v1/links", {"json": {"amount": 0, "description": "x"}}),
        ("POST", "/v1/links", {"content": _oversized(2048)}),
        ("DELETE", "/v1/links", {}),
        ("GET", "/v1/nowhere", {}),
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
    ]
    seen: set[str] = set()
    statuses = set()
    for n, (method, path, extra) in enumerate(requests):
        given = f"req-{n}.abc_DEF"
        response = api.client.request(
            method, path, headers=merchant.headers(**{"X-Request-Id": given}), **extra
        )
        statuses.add(response.status_code)
        assert response.headers["x-request-id"] == given, f"{method} {path}"
        if response.status_code >= 400:
            assert response.json()["request_id"] == given
        fresh = api.client.request(method, path, headers=merchant.headers(), **extra)
        assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", fresh.headers["x-request-id"])
        seen.add(fresh.headers["x-request-id"])
    unauthenticated = api.client.get("/v1/links", headers={"X-Request-Id": "anon-1"})
    assert unauthenticated.headers["x-request-id"] == "anon-1"
    for _ in range(3):
        limited = api.client.get("/v1/links", headers=merchant.headers())
    assert limited.status_code == 429
    assert limited.headers["x-request-id"]
    assert statuses >= {200, 201, 404, 405, 413, 422}
    assert len(seen) == len(requests), "request ids repeat"


@pytest.mark.parametrize(
    "given",
    ["has space", "x" * 65, "semi;colon", "ünïcode", "<script>"],
    ids=["space", "too-long", "semicolon", "non-ascii", "markup"],
)
def test_an_unsafe_incoming_request_id_is_replaced(sqlite_api: Api, given: str) -> None:
    merchant = sqlite_api.merchant()

    headers = {
        b"authorization": merchant.headers()["Authorization"].encode(),
        b"x-request-id": given.encode(),
    }

    response = sqlite_api.client.get(f"/v1/links/{UNKNOWN_ID}", headers=headers)

    request_id = response.headers["x-request-id"]
    assert request_id != given
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", request_id)
    assert response.json()["request_id"] == request_id


def _assert_hidden_500(response: Any, caplog: pytest.LogCaptureFixture, given: str) -> None:
    problem = assert_problem(response, 500, "internal-error")
    assert problem["request_id"] == given
    for secret in ("hunter2", "db-primary", "RuntimeError", "Traceback", 'File "', ".py"):
        assert secret not in response.text, secret
    logged = [r for r in caplog.records if given in r.getMessage()]
    assert logged, "the 5xx was not logged with its request id"
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in logged)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/links", GOOD),
        ("POST", f"/v1/links/{UNKNOWN_ID}/cancel", None),
        ("GET", "/v1/links", None),
        ("GET", f"/v1/links/{UNKNOWN_ID}", None),
    ],
)
def test_an_internal_error_is_a_500_problem_without_details_logged_with_its_request_id(
    make_sqlite_api: MakeApi,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    api = make_sqlite_api(raise_server_exceptions=False)
    merchant = api.merchant()
    monkeypatch.setattr(api.app.state, "paylink", ExplodingPaylink(api.paylink))
    caplog.set_level(logging.ERROR)
    given = f"boom-{method.lower()}-{len(path)}"

    response = api.client.request(
        method, path, json=body, headers=merchant.headers(**{"X-Request-Id": given})
    )

    _assert_hidden_500(response, caplog, given)
    assert response.headers["x-request-id"] == given


def _cursor(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/links", "/v1/payments"])
def test_a_forged_cursor_is_a_422_problem(make_sqlite_api: MakeApi, path: str) -> None:
    api = make_sqlite_api(raise_server_exceptions=False)
    merchant = api.merchant()

    response = api.client.get(
        path, params={"cursor": _cursor([{}, []])}, headers=merchant.headers()
    )

    assert_problem(response, 422, field="cursor")


FIRST_INSTANT = "0001-01-01T00:00:00+01:00"  # before year 1 in UTC
LAST_INSTANT = "9999-12-31T23:59:59-01:00"  # after year 9999 in UTC


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/v1/balances", "as_of", FIRST_INSTANT),
        ("/v1/balances", "as_of", LAST_INSTANT),
        ("/v1/links", "created_from", FIRST_INSTANT),
        ("/v1/links", "created_to", FIRST_INSTANT),
    ],
)
def test_an_instant_at_the_edge_of_the_calendar_is_not_a_500(
    make_sqlite_api: MakeApi, path: str, name: str, value: str
) -> None:
    api = make_sqlite_api(raise_server_exceptions=False)
    merchant = api.merchant()

    response = api.client.get(path, params={name: value}, headers=merchant.headers())

    assert response.status_code in (200, 422), response.text
