"""``POST /v1/links/batch``: many links from a CSV or JSON-lines file, on SQLite and PostgreSQL.

Each row is judged as ``POST /v1/links`` judges a body and created idempotently by its
``reference_id``; the answer has a result per row; a file that cannot be read stores
nothing. Sending links to customers from a file is tested with the notifiers in
``tests/integration/notify/test_batch_send.py``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson
import pytest

from tests.integration.api.support import HttpResponse, assert_problem, instant
from tests.support.app import Api, MakeApi, Merchant

CSV_TYPE = "text/csv"
NDJSON_TYPE = "application/x-ndjson"
EXPIRY = "2026-02-01T23:59:00+07:00"
HEADER = (
    "reference_id,description,amount,amount_min,amount_max,currency,methods,expires_at,"
    "usage_limit,customer_name,customer_email,customer_phone,slug"
)
GOOD_FILE = (
    f"{HEADER}\n"
    f"INV-1,Kaos polos hitam,150000,,,IDR,va_bca|qris,{EXPIRY},1,Budi,budi@example.com,"
    "08123456789,\n"
    "INV-2,Donasi bebas,,10000,5000000,IDR,qris va_bsi,,unlimited,,,,\n"
    "INV-3,Topi,50000,,,,,,,,,,Topi-Merah\n"
)


def upload(
    api: Api,
    merchant: Merchant,
    text: str | bytes,
    content_type: str = CSV_TYPE,
    mode: str = "test",
    **headers: str,
) -> HttpResponse:
    response: HttpResponse = api.client.post(
        "/v1/links/batch",
        content=text,
        headers=merchant.headers(mode, **{"Content-Type": content_type, **headers}),
    )
    return response


def results(response: HttpResponse) -> list[dict[str, Any]]:
    """The result rows, the same shape whether the answer is CSV or JSON lines."""
    assert response.status_code == 200, response.text
    kind = response.headers["content-type"]
    if kind.startswith(NDJSON_TYPE):
        return [json.loads(line) for line in response.text.splitlines()]
    assert kind == "text/csv; charset=utf-8", kind
    rows = list(csv.DictReader(io.StringIO(response.text)))
    return [
        {key: (int(value) if key == "row" else value or None) for key, value in row.items()}
        for row in rows
    ]


def by_reference(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["reference_id"]: row for row in rows}


def test_a_csv_file_makes_a_link_per_good_row_and_answers_every_row(api: Api) -> None:
    merchant = api.merchant()
    text = (
        GOOD_FILE + "INV-4,Kaos,seratus ribu,,,,,,,,,,\n"
        "INV-5,Kaos,0,,,,,,,,,,\n"
        "INV-6,Kaos,150000,,,,va_nope,,,,,,\n"
        ",Tanpa referensi,150000,,,,,,,,,,\n"
    )

    response = upload(api, merchant, text)

    rows = results(response)
    assert [row["row"] for row in rows] == [2, 3, 4, 5, 6, 7, 8]
    assert [row["status"] for row in rows] == ["created"] * 3 + ["error"] * 4
    assert [(row["error_type"], row["error_field"]) for row in rows[3:]] == [
        ("validation-error", "amount"),
        ("amount-invalid", "amount"),
        ("payment-method-unknown", "methods[0]"),
        ("validation-error", "reference_id"),
    ]
    assert rows[3]["error_message"] == "amount: Input should be a valid integer"
    assert all(row["link_id"] is None and row["url"] is None for row in rows[3:])
    assert response.headers["Paylink-Batch-Rows"] == "7"
    assert response.headers["Paylink-Batch-Created"] == "3"
    assert response.headers["Paylink-Batch-Existing"] == "0"
    assert response.headers["Paylink-Batch-Errors"] == "4"
    assert api.count("PaymentLink.Created") == 3
    api.catch_up()
    events = api.client.get("/v1/events?limit=100", headers=merchant.headers()).json()["data"]
    created = {e["data"]["id"] for e in events if e["type"] == "link.created"}
    assert created == {row["link_id"] for row in rows[:3]}

    links = {
        row["reference_id"]: api.client.get(
            f"/v1/links/{row['link_id']}", headers=merchant.headers()
        ).json()
        for row in rows[:3]
    }
    fixed, open_amount, slugged = links["INV-1"], links["INV-2"], links["INV-3"]
    assert (fixed["amount"], fixed["methods"], fixed["usage_limit"]) == (
        150000,
        ["va_bca", "qris"],
        1,
    )
    assert instant(fixed["expires_at"]) == instant(EXPIRY)
    assert fixed["customer"] == {
        "name": "Budi",
        "email": "budi@example.com",
        "phone": "+628123456789",
        "address": None,
    }
    assert (open_amount["amount_min"], open_amount["amount_max"]) == (10000, 5000000)
    assert open_amount["usage_limit"] is None
    assert slugged["slug"] == "topi-merah"
    for row in rows[:3]:
        assert row["url"] == links[row["reference_id"]]["url"]
    assert rows[2]["url"].endswith("/l/topi-merah")


BAD_BODIES: list[dict[str, Any]] = [
    {"amount": 0},
    {"amount": 10**16},
    {"amount": "150000"},
    {"amount": 1000, "currency": "XYZ"},
    {"amount": 1000, "description": ""},
    {"amount": 1000, "expires_at": "2025-01-01T00:00:00+07:00"},
    {"amount": 1000, "expires_at": "2026-03-01T00:00:00"},
    {"amount": 1000, "methods": ["nope"]},
    {"amount": 1000, "currency": "USD", "methods": ["va_bca"]},
    {"amount": 1000, "customer": {"email": "not an address"}},
    {"amount": 1000, "slug": "dashboard"},
    {"amount": 1000, "usage_limit": 0},
    {"amount_min": 5000, "amount_max": 1000},
    {"description": "no amount at all"},
    {"amount": 1000, "colour": "red"},
]


def test_a_rows_asks_reach_its_link_and_its_page_asks_the_payer(api: Api) -> None:
    merchant = api.merchant()
    fields = [{"key": "nis", "type": "text", "label": {"id": "NIS", "en": "Student number"}}]
    quoted = '"' + json.dumps(fields).replace('"', '""') + '"'
    text = (
        "reference_id,description,amount,ask_name,ask_phone,custom_fields\n"
        f"SPP-1,SPP Mei,250000,required,optional,{quoted}\n"
        "SPP-2,SPP Juni,250000,perhaps,,\n"
    )

    made, refused = results(upload(api, merchant, text))

    assert made["status"] == "created", made
    assert (refused["error_field"], refused["status"]) == ("ask_name", "error")
    link = api.client.get(f"/v1/links/{made['link_id']}", headers=merchant.headers()).json()
    assert link["customer_fields"] == {"name": "required", "phone": "optional"}
    assert [field["key"] for field in link["custom_fields"]] == ["nis"]
    page = api.client.get(f"/l/{link['code']}")
    assert page.status_code == 200
    assert "NIS" in page.text
    assert api.count("PaymentLink.Created") == 1


def test_each_row_is_judged_as_a_single_create_judges_the_same_body(api: Api) -> None:
    merchant = api.merchant()
    bodies = [
        {"description": "Kaos", **body, "reference_id": f"BAD-{n}"}
        for n, body in enumerate(BAD_BODIES)
    ]
    singles = [
        assert_problem(api.client.post("/v1/links", json=body, headers=merchant.headers()), 422)
        for body in bodies
    ]
    text = b"".join(orjson.dumps(body) + b"\n" for body in bodies)

    rows = results(upload(api, merchant, text, NDJSON_TYPE))

    assert len(rows) == len(bodies)
    for body, single, row in zip(bodies, singles, rows, strict=True):
        assert row["status"] == "error", body
        assert row["error_type"] == single["type"].removeprefix("/problems/"), body
        assert row["error_field"] == single.get("field"), body
        assert row["error_message"] == single["detail"], body
    assert api.count("PaymentLink.Created") == 0


def test_sending_the_same_file_again_creates_nothing_and_answers_existing(api: Api) -> None:
    merchant = api.merchant()
    first = results(upload(api, merchant, GOOD_FILE))
    head = api.head()

    again = upload(api, merchant, GOOD_FILE)

    rows = results(again)
    assert [row["status"] for row in rows] == ["existing"] * 3
    assert [row["link_id"] for row in rows] == [row["link_id"] for row in first]
    assert [row["url"] for row in rows] == [row["url"] for row in first]
    assert again.headers["Paylink-Batch-Existing"] == "3"
    assert api.head() == head, "nothing may be stored for a file sent again"


def test_a_row_changed_since_is_reference_id_reused_and_the_other_rows_exist(api: Api) -> None:
    merchant = api.merchant()
    first = by_reference(results(upload(api, merchant, GOOD_FILE)))
    head = api.head()

    changed = upload(api, merchant, GOOD_FILE.replace("Topi,50000", "Topi,55000"))

    rows = by_reference(results(changed))
    assert rows["INV-1"]["status"] == rows["INV-2"]["status"] == "existing"
    reused = rows["INV-3"]
    assert (reused["status"], reused["error_type"], reused["error_field"]) == (
        "error",
        "reference-id-reused",
        "reference_id",
    )
    assert reused["link_id"] == first["INV-3"]["link_id"]
    assert first["INV-3"]["link_id"] in reused["error_message"]
    assert api.head() == head


def test_json_lines_answer_json_lines_or_csv_when_accept_asks(api: Api) -> None:
    merchant = api.merchant()
    lines = (
        '{"reference_id": "J-1", "amount": 150000, "description": "Kaos"}\n'
        "not json\n"
        '{"reference_id": "J-2", "amount_min": 10000, "description": "Donasi",'
        ' "usage_limit": null, "line_items": null, "metadata": {"campaign": "ramadan"}}\n'
    )

    as_lines = upload(api, merchant, lines, NDJSON_TYPE)
    as_csv = upload(api, merchant, lines, NDJSON_TYPE, Accept="text/csv")
    csv_as_lines = upload(api, merchant, GOOD_FILE, Accept=NDJSON_TYPE)

    assert as_lines.headers["content-type"] == NDJSON_TYPE
    assert [row["status"] for row in results(as_lines)] == ["created", "error", "created"]
    assert [row["status"] for row in results(as_csv)] == ["existing", "error", "existing"]
    assert results(as_csv)[1]["row"] == 2
    assert csv_as_lines.headers["content-type"] == NDJSON_TYPE
    assert [row["status"] for row in results(csv_as_lines)] == ["created"] * 3


def test_an_idempotency_key_changes_nothing_the_rows_are_idempotent_by_reference(
    api: Api,
) -> None:
    merchant = api.merchant()
    key = {"Idempotency-Key": "batch-1"}

    first = results(upload(api, merchant, GOOD_FILE, **key))
    again = results(upload(api, merchant, GOOD_FILE, **key))

    assert [row["status"] for row in first] == ["created"] * 3
    assert [row["status"] for row in again] == ["existing"] * 3
    assert api.count("IdempotentRequest.Started") == 0


def test_each_merchant_and_mode_has_references_of_its_own(api: Api) -> None:
    budi, lain = api.merchant("Toko Budi"), api.merchant("Toko Lain")
    text = GOOD_FILE.replace("Topi-Merah", "")

    test_mode = results(upload(api, budi, text))
    live_mode = results(upload(api, budi, text, mode="live"))
    other = results(upload(api, lain, text))

    for rows in (test_mode, live_mode, other):
        assert [row["status"] for row in rows] == ["created"] * 3
    ids = {row["link_id"] for rows in (test_mode, live_mode, other) for row in rows}
    assert len(ids) == 9


@pytest.mark.parametrize(
    ("text", "content_type", "status", "slug", "field"),
    [
        (GOOD_FILE, "application/json", 415, "unsupported-media-type", "Content-Type"),
        (GOOD_FILE, "text/plain", 415, "unsupported-media-type", "Content-Type"),
        ("reference_id,amout\nR-1,5\n", CSV_TYPE, 400, "batch-invalid", "header"),
        ("description,amount\nKaos,5\n", CSV_TYPE, 400, "batch-invalid", "header"),
        (f"{HEADER}\n", CSV_TYPE, 400, "batch-invalid", "file"),
        ("", NDJSON_TYPE, 400, "batch-invalid", "file"),
        (GOOD_FILE.encode() + b"INV-9,\xc0\xafKaos,1\n", CSV_TYPE, 400, "batch-invalid", "file"),
        (
            "reference_id,description,amount\n" + "R,Kaos,1000\n" * 10_001,
            CSV_TYPE,
            413,
            "batch-too-large",
            "rows",
        ),
    ],
    ids=[
        "json",
        "text",
        "unknown-column",
        "no-reference-column",
        "no-rows",
        "empty",
        "not-utf8",
        "too-many-rows",
    ],
)
def test_a_file_that_cannot_be_read_is_a_problem_and_stores_nothing(
    api: Api, text: str | bytes, content_type: str, status: int, slug: str, field: str
) -> None:
    merchant = api.merchant()
    head = api.head()

    problem = assert_problem(upload(api, merchant, text, content_type), status, slug, field=field)

    assert problem["detail"]
    assert api.head() == head


def test_a_file_may_be_larger_than_other_bodies_up_to_its_own_cap(make_api: MakeApi) -> None:
    api = make_api(run_projections=False, batch_max_bytes=200_000)
    merchant = api.merchant()
    rows = "".join(f"BIG-{i},{'Kaos polos hitam ' * 4},150000\n" for i in range(1_200))
    text = f"reference_id,description,amount\n{rows}"
    assert 64 * 1024 < len(text) < 200_000

    accepted = upload(api, merchant, text)
    too_big = upload(api, merchant, text + text)
    single = api.client.post(
        "/v1/links",
        content=b'{"description": "' + b"x" * 70_000 + b'"}',
        headers=merchant.headers(**{"Content-Type": "application/json"}),
    )

    assert accepted.headers["Paylink-Batch-Created"] == "1200"
    assert_problem(too_big, 413, "payload-too-large")
    assert "200000 bytes" in too_big.json()["detail"]
    assert_problem(single, 413, "payload-too-large")


def test_a_file_without_a_key_is_refused_before_it_is_read(api: Api) -> None:
    response = api.client.post(
        "/v1/links/batch", content=GOOD_FILE, headers={"Content-Type": CSV_TYPE}
    )

    assert_problem(response, 401, "authentication-required")


def test_the_openapi_document_declares_both_file_types_with_examples_and_the_results(
    api: Api,
) -> None:
    operation = api.client.get("/openapi.json").json()["paths"]["/v1/links/batch"]["post"]

    body = operation["requestBody"]["content"]
    assert set(body) == {CSV_TYPE, NDJSON_TYPE}
    assert body[CSV_TYPE]["example"].startswith("reference_id,description,amount,")
    assert all(json.loads(line) for line in body[NDJSON_TYPE]["example"].splitlines())
    answered = operation["responses"]["200"]
    assert set(answered["content"]) == {CSV_TYPE, NDJSON_TYPE}
    assert "Paylink-Batch-Created" in answered["headers"]
    assert {"400", "413", "415", "422"} <= set(operation["responses"])
