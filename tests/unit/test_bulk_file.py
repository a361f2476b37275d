"""Reading a file of bulk links (``api.bulk``): rows, their line numbers, bad files. No store."""

from __future__ import annotations

from typing import Any

import pytest

from api.bulk import (
    COLUMNS,
    MAX_ROWS,
    BatchFileError,
    RowRequest,
    RowResult,
    answer_format,
    format_of,
    parse_batch,
    result_csv,
    template_csv,
)

HEADER = "reference_id,description,amount"


def rows_of(text: str | bytes, kind: Any = "csv") -> list[RowRequest]:
    return parse_batch(text.encode() if isinstance(text, str) else text, kind)


def refused(text: str | bytes, kind: Any = "csv") -> BatchFileError:
    with pytest.raises(BatchFileError) as raised:
        rows_of(text, kind)
    return raised.value


def test_a_csv_row_becomes_the_body_a_single_create_would_get() -> None:
    header = ",".join(COLUMNS)
    row = (
        "INV-1, Kaos polos hitam ,150000,,,IDR,va_bca|qris  va_bri,2026-12-31T23:59:00+07:00,"
        "unlimited,Budi,budi@example.com,0812 3456 7890,Kaos-L,yes,false,"
    )

    (only,) = rows_of(f"{header}\n{row}\n")

    assert only.error is None
    assert only.row == 2
    assert only.reference_id == "INV-1"
    assert only.fields["description"] == "Kaos polos hitam"
    assert only.fields["amount"] == 150000
    assert only.fields["methods"] == ["va_bca", "qris", "va_bri"]
    assert only.fields["usage_limit"] is None
    assert only.fields["expires_at"].isoformat() == "2026-12-31T23:59:00+07:00"
    assert only.fields["customer"] == {
        "name": "Budi",
        "email": "budi@example.com",
        "phone": "0812 3456 7890",
    }
    assert only.fields["slug"] == "Kaos-L"
    assert "amount_min" not in only.fields
    assert "currency" in only.fields
    assert only.channels == ("email",)


def test_empty_cells_are_fields_not_given() -> None:
    (only,) = rows_of("reference_id,description,amount,usage_limit,methods\nR-1,Kaos,1000,,\n")

    assert only.fields == {"reference_id": "R-1", "description": "Kaos", "amount": 1000}


def test_rows_are_numbered_by_the_line_they_start_on() -> None:
    text = f'{HEADER}\nR-1,Kaos,1000\n\nR-2,"Kaos\npanjang",2000\n,,\nR-3,Kaos,3000\n'

    rows = rows_of(text)

    assert [(row.row, row.reference_id) for row in rows] == [(2, "R-1"), (4, "R-2"), (7, "R-3")]
    assert rows[1].fields["description"] == "Kaos\npanjang"


def test_a_spreadsheets_csv_with_a_bom_semicolons_and_capitals_is_read() -> None:
    text = "\ufeffReference_ID ; Description;AMOUNT\r\nR-1;Kaos;1000\r\n"

    (only,) = rows_of(text.encode("utf-8"))

    assert only.error is None
    assert only.fields == {"reference_id": "R-1", "description": "Kaos", "amount": 1000}


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ("R-1,Kaos,seribu", "amount", "amount: Input should be a valid integer"),
        ("R-1,,1000", "description", "description: Field required"),
        (",Kaos,1000", "reference_id", "reference_id: is required"),
        ("R-1,Kaos,1000,extra", "row", "row: has 4 cells, the header names 3 columns"),
    ],
)
def test_a_bad_row_is_that_rows_error_only(cells: str, field: str, message: str) -> None:
    bad, good = rows_of(f"{HEADER}\n{cells}\nR-2,Kaos,2000\n")

    assert bad.error is not None
    assert (bad.error.type, bad.error.field) == ("validation-error", field)
    assert bad.error.message.startswith(message)
    assert good.error is None


def test_a_send_flag_that_is_no_yes_or_no_is_the_rows_error() -> None:
    (only,) = rows_of("reference_id,description,amount,send_sms\nR-1,Kaos,1000,kadang\n")

    assert only.error is not None
    assert only.error.field == "send_sms"


def test_a_later_row_repeating_a_reference_or_a_slug_gets_an_error() -> None:
    text = (
        "reference_id,description,amount,slug\n"
        "R-1,Kaos,1000,promo\n"
        "R-1,Kaos,1000,\n"
        "R-2,Kaos,1000,PROMO\n"
        "R-3,Kaos,1000,lain\n"
    )

    first, again, slug, other = rows_of(text)

    assert first.error is None
    assert other.error is None
    assert again.error is not None
    assert (again.error.type, again.error.field) == ("reference-id-repeated", "reference_id")
    assert "row 2" in again.error.message
    assert slug.error is not None
    assert (slug.error.type, slug.error.field) == ("slug-repeated", "slug")


@pytest.mark.parametrize(
    ("text", "status", "field", "words"),
    [
        (b"", 400, "header", "empty"),
        (b"\n\n", 400, "header", "empty"),
        (f"{HEADER}\n".encode(), 400, "file", "no rows"),
        (b"reference_id,amout\nR-1,5\n", 400, "header", "'amout'"),
        (b"description,amount\nKaos,5\n", 400, "header", "no reference_id"),
        (b"reference_id,amount,Amount\nR-1,5,6\n", 400, "header", "'amount' twice"),
        (b"reference_id,,amount\nR-1,,5\n", 400, "header", "an empty name"),
        (b"reference_id,description\nR-1,\xffKaos\n", 400, "file", "not UTF-8 text (line 2"),
        (b'reference_id,description\nR-1,"Kaos\n', 400, "file", "cannot be read"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    text: bytes, status: int, field: str, words: str
) -> None:
    error = refused(text)

    assert (error.status, error.field) == (status, field)
    assert words in error.detail


def test_ten_thousand_rows_are_read_and_one_more_is_refused() -> None:
    rows = "".join(f"R-{i},Kaos,1000\n" for i in range(MAX_ROWS))

    assert len(rows_of(f"{HEADER}\n{rows}")) == MAX_ROWS
    error = refused(f"{HEADER}\n{rows}R-last,Kaos,1000\n")
    assert (error.status, error.slug, error.field) == (413, "batch-too-large", "rows")
    ndjson = '{"reference_id": "R", "description": "Kaos", "amount": 1}\n' * (MAX_ROWS + 1)
    assert refused(ndjson, "ndjson").status == 413


def test_json_lines_are_bodies_with_their_send_flags() -> None:
    text = (
        '{"reference_id": "R-1", "description": "Kaos", "amount": 1000, "send_whatsapp": true}\n'
        "\n"
        "[1, 2]\n"
        '{"reference_id": "R-3", "description": \n'
        '{"reference_id": "R-4", "description": "Kaos", "amount": 1000, "colour": "red"}\n'
        '{"description": "Kaos", "amount": 1000}\n'
    )

    good, array, broken, extra, unnamed = rows_of(text, "ndjson")

    assert good.error is None
    assert good.row == 1
    assert good.channels == ("whatsapp",)
    assert "send_whatsapp" not in good.fields
    assert array.row == 3
    assert array.error is not None
    assert array.error.message == "body: the line must be a JSON object: one link's body"
    assert broken.error is not None
    assert broken.error.message.startswith("body: the line is not valid JSON")
    assert extra.error is not None
    assert (extra.reference_id, extra.error.field) == ("R-4", "colour")
    assert unnamed.error is not None
    assert unnamed.error.field == "reference_id"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv", "csv"),
        ("text/csv; charset=utf-8", "csv"),
        ("TEXT/CSV", "csv"),
        ("application/x-ndjson", "ndjson"),
        ("application/jsonl", "ndjson"),
    ],
)
def test_the_content_type_names_the_format(content_type: str, expected: str) -> None:
    assert format_of(content_type) == expected


@pytest.mark.parametrize("content_type", [None, "", "application/json", "text/plain"])
def test_another_content_type_is_a_415(content_type: str | None) -> None:
    with pytest.raises(BatchFileError) as raised:
        format_of(content_type)

    assert (raised.value.status, raised.value.field) == (415, "Content-Type")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "csv"),
        ("*/*", "csv"),
        ("application/x-ndjson", "ndjson"),
        ("application/json, application/x-ndjson;q=0.9", "ndjson"),
        ("text/csv, application/x-ndjson", "csv"),
    ],
)
def test_the_answer_is_in_the_format_accept_names_first_else_the_files(
    accept: str | None, expected: str
) -> None:
    assert answer_format(accept, "csv") == expected


def test_the_result_file_quotes_what_a_spreadsheet_would_run() -> None:
    result = RowResult(2, "R-1", "created", link_id="x", url="=HYPERLINK(1)")

    header, line = "".join(result_csv([result])).splitlines()

    assert header.split(",")[:5] == ["row", "reference_id", "status", "link_id", "url"]
    assert line.startswith("2,R-1,created,x,'=HYPERLINK(1)")


def test_the_template_is_a_file_of_one_good_row() -> None:
    (only,) = rows_of(template_csv("2026-12-31T23:59:00+07:00"))

    assert only.error is None
    assert only.channels == ("email",)
    assert only.fields["customer"]["email"] == "budi@example.com"


def test_a_line_that_asks_to_notify_or_remind_is_refused_naming_the_field() -> None:
    text = (
        '{"reference_id": "R-1", "description": "Kaos", "amount": 1000,'
        ' "notify": {"email": "budi@example.com"}}\n'
        '{"reference_id": "R-2", "description": "Kaos", "amount": 1000, "reminders": ["1h"]}\n'
    )

    notify, remind = rows_of(text, "ndjson")

    assert notify.error is not None
    assert (notify.error.field, notify.reference_id) == ("notify", "R-1")
    assert "send_email, send_whatsapp and send_sms columns" in notify.error.message
    assert remind.error is not None
    assert remind.error.field == "reminders"


def test_what_the_page_asks_the_payer_has_columns_of_its_own() -> None:
    fields = '[{"key": "nis", "type": "text", "label": {"id": "NIS", "en": "Student no."}}]'
    quoted = '"' + fields.replace('"', '""') + '"'
    header = f"{HEADER},ask_name,ask_phone,ask_email,custom_fields"
    text = f"{header}\nINV-9,SPP Mei,250000,Required,optional,,{quoted}\n"

    (only,) = rows_of(text)

    assert only.error is None, only.error
    assert only.fields["customer_fields"] == {"name": "required", "phone": "optional"}
    [asked] = only.fields["custom_fields"]
    assert asked["key"] == "nis"
    assert asked["type"] == "text"
    assert asked["label"] == {"id": "NIS", "en": "Student no."}


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        (",maybe,", "ask_name", "ask_name: Input should be 'required' or 'optional'"),
        (",,[{", "custom_fields", "custom_fields: is not a JSON array of fields"),
        (
            ',,"[{""key"": ""a""}]"',
            "custom_fields[0].type",
            "custom_fields[0].type: Field required",
        ),
    ],
)
def test_a_bad_ask_is_that_rows_error_named_by_its_column(
    cells: str, field: str, message: str
) -> None:
    (only,) = rows_of(f"{HEADER},ask_name,custom_fields\nINV-1,a,1000{cells}\n")

    assert only.error is not None
    assert only.error.field == field
    assert only.error.message.startswith(message), only.error.message
