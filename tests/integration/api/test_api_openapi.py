"""The OpenAPI document and docs: served, with working examples, declaring what is answered."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from paylink_es.bootstrap import build
from paylink_es.domain.money import Money
from paylink_es.settings import Settings
from tests.support.app import Api, Merchant
from tests.support.images import logo_upload

# Webhooks and the feed are tested in tests/integration/webhooks; the sandbox's example
# names a payment that has to exist first, and tests/integration/page pays through it.
UNDER_CONSTRUCTION = ("/v1/events", "/v1/webhook", "/v1/deliveries", "/v1/sandbox")


def _operations(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    document = api.client.get("/openapi.json").json()
    return {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        if path.startswith("/v1/") and not path.startswith(UNDER_CONSTRUCTION)
        for method, operation in operations.items()
    }


def _body_examples(document: dict[str, Any], operation: dict[str, Any]) -> list[Any]:
    """The JSON examples of an operation's body (``_text_examples``: those of other types)."""
    media = operation["requestBody"]["content"].get("application/json")
    if media is None:
        return []
    examples = list(media.get("examples", {}).values()) + (
        [media["example"]] if "example" in media else []
    )
    schema = media["schema"]
    for candidate in [schema, *schema.get("anyOf", [])]:
        if "$ref" in candidate:
            name = candidate["$ref"].rsplit("/", 1)[1]
            examples += document["components"]["schemas"][name].get("examples", [])
        examples += candidate.get("examples", [])
    return examples


def _text_examples(operation: dict[str, Any]) -> list[tuple[str, str]]:
    """(content type, example) of each body that is not JSON (the files of bulk links)."""
    return [
        (content_type, media["example"])
        for content_type, media in operation["requestBody"]["content"].items()
        if content_type != "application/json" and "example" in media
    ]


def _binary_types(operation: dict[str, Any]) -> list[str]:
    """The content types of a body that is a file's bytes (a logo): no text example fits
    them, so the test sends an image of its own."""
    return [
        content_type
        for content_type, media in operation["requestBody"]["content"].items()
        if media.get("schema", {}).get("format") == "binary"
    ]


def _payouts_last(item: tuple[tuple[str, str], Any]) -> tuple[bool, str, str]:
    (method, path), _ = item
    return (path == "/v1/payouts", path, method)  # after the bank account is set


def _payment_for(api: Api, merchant: Merchant, path: str) -> UUID:
    """A verified payment the example can act on (underpaid, so held, for a review)."""
    link = UUID(api.create_link(merchant, amount=100_000)["id"])
    payment = api.paylink.payments.start(link, "va_bca")
    paid = 80_000 if path.endswith("/review") else 100_000
    api.paylink.payments.record(payment, f"EX-{uuid4().hex[:8]}", Money(paid, "IDR"), api.clock())
    api.paylink.payments.verify(payment)
    return payment


def _fund(api: Api, merchant: Merchant, amount: int) -> None:
    """Make ``amount`` available: a payment of it plus its fee, settled."""
    link = UUID(api.create_link(merchant, amount=amount + 4_000)["id"])
    payment = api.paylink.payments.start(link, "va_bca")
    api.paylink.payments.record(
        payment, f"FUND-{uuid4().hex[:8]}", Money(amount + 4_000, "IDR"), api.clock()
    )
    api.paylink.payments.verify(payment)
    assert api.paylink.money.settle(date(2026, 1, 9), [payment]).settled == 1


def test_the_openapi_document_and_the_docs_are_served(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json")
    docs = sqlite_api.client.get("/docs")

    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert {"/v1/links", "/v1/links/{link_id}", "/v1/balances"} <= set(document.json()["paths"])
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_every_asset_from_this_server(sqlite_api: Api, page: str) -> None:
    answered = sqlite_api.client.get(page)
    html = answered.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert answered.headers["content-security-policy"].startswith("default-src 'self';")

    assert assets, html
    assert not [url for url in assets if "//" in url], "the docs must not fetch another host"
    for url in assets:
        answer = sqlite_api.client.get(url)
        assert answer.status_code == 200, url
        assert len(answer.content) > 100, url
    assert "/openapi.json" in html


def test_the_site_icon_is_served(sqlite_api: Api) -> None:
    icon = sqlite_api.client.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_every_request_body_has_an_example_and_each_example_is_accepted(
    sqlite_api: Api,
) -> None:
    merchant = sqlite_api.merchant()
    document = sqlite_api.client.get("/openapi.json").json()
    bodies = {key: op for key, op in _operations(sqlite_api).items() if "requestBody" in op}
    assert ("POST", "/v1/links") in bodies

    for (method, path), operation in sorted(bodies.items(), key=_payouts_last):
        examples = _body_examples(document, operation)
        files = _text_examples(operation)
        images = _binary_types(operation)
        assert examples or files or images, f"{method} {path} has no request example"
        for content_type in images:
            headers = merchant.headers(**{"Content-Type": content_type})
            response = sqlite_api.client.request(
                method, path, content=logo_upload((64, 64)), headers=headers
            )
            assert response.status_code == 200, f"{method} {path} {content_type}: {response.text}"
        for content_type, text in files:
            headers = merchant.headers(**{"Content-Type": content_type})
            response = sqlite_api.client.request(method, path, content=text, headers=headers)
            assert response.status_code == 200, f"{method} {path} {content_type}: {response.text}"
            assert response.headers["Paylink-Batch-Errors"] == "0", response.text
        for example in examples:
            url = path
            if "{link_id}" in path:
                url = path.replace("{link_id}", sqlite_api.create_link(merchant)["id"])
            if "{payment_id}" in path:
                url = path.replace("{payment_id}", str(_payment_for(sqlite_api, merchant, path)))
            if path == "/v1/payouts":
                _fund(sqlite_api, merchant, example["amount"])
            response = sqlite_api.client.request(
                method, url, json=example, headers=merchant.headers()
            )
            assert response.status_code in (200, 201), f"{method} {path} {example}: {response.text}"


def test_every_status_post_links_answers_is_declared(sqlite_api: Api) -> None:
    merchant = sqlite_api.merchant()
    body = {"amount": 1000, "description": "x", "reference_id": "INV-9"}
    headers = merchant.headers(**{"Idempotency-Key": "k-1"})
    answered = {
        sqlite_api.client.post("/v1/links", json=body, headers=headers).status_code,
        sqlite_api.client.post("/v1/links", json=body, headers=merchant.headers()).status_code,
        sqlite_api.client.post(
            "/v1/links", json={**body, "amount": 2}, headers=headers
        ).status_code,
    }
    assert answered == {200, 201, 409}

    declared = set(_operations(sqlite_api)[("POST", "/v1/links")]["responses"])

    assert {str(status) for status in answered} <= declared


def test_the_document_declares_bearer_keys_and_idempotency_keys(sqlite_api: Api) -> None:
    document = sqlite_api.client.get("/openapi.json").json()
    schemes = document.get("components", {}).get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())

    for (method, path), operation in _operations(sqlite_api).items():
        assert operation.get("security") or document.get("security"), f"{method} {path}"
        if method == "POST":
            headers = {p["name"].lower() for p in operation.get("parameters", [])}
            assert "idempotency-key" in headers, f"{method} {path}"


def test_an_app_can_be_started_stopped_and_started_again(tmp_path: Path) -> None:
    with build(Settings(data_dir=tmp_path / "var")) as services:
        app = create_app(services)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200

        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200


def test_the_document_describes_behaviour_not_the_codes_internals(sqlite_api: Api) -> None:
    text = sqlite_api.client.get("/openapi.json").text
    for internal in (":mod:", ":func:", ":class:", "api.direct", "paylink_es.", "projections."):
        assert internal not in text, internal
