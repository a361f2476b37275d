"""Bulk links on the dashboard: upload a CSV, follow its progress, download the results.

The rows run in the background (``api.bulk_jobs``) with the API's own code; the batch's
page polls ``/dashboard/links/bulk/{id}/progress``. A batch is the uploading merchant's
(and mode's) only; owners upload, viewers do not.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any
from uuid import UUID

from api.bulk import COLUMNS, RESULT_COLUMNS
from tests.support.app import outbox_messages
from tests.support.desk import OTHER_OWNER, VIEWER, Desk, post
from tests.support.shop import Http, Reply

FORM = "/dashboard/links/bulk"
HEADER = "reference_id,description,amount,customer_email,send_email"


def upload(client: Http, text: str | bytes, filename: str = "links.csv") -> Reply:
    content = text.encode() if isinstance(text, str) else text
    return post(client, FORM, files={"file": (filename, content, "text/csv")})


def batch_path(response: Reply) -> str:
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith(f"{FORM}/")
    return location


def follow(client: Http, path: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every progress the batch reported until it finished."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not seen or not seen[-1]["finished"]:
        assert time.monotonic() < deadline, seen[-1:]
        response = client.get(f"{path}/progress")
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        seen.append(response.json())
        time.sleep(0.005)
    return seen


def result_rows(client: Http, path: str) -> list[dict[str, str]]:
    batch_id = path.rsplit("/", 1)[1]
    response = client.get(f"/dashboard/exports/bulk/{batch_id}.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="bulk-{batch_id}-results.csv"'
    )
    return list(csv.DictReader(io.StringIO(response.text)))


def outbox(desk: Desk) -> list[dict[str, Any]]:
    return outbox_messages(desk.shop.settings)


def test_an_owner_uploads_a_csv_follows_its_progress_and_downloads_the_results(
    desk: Desk,
) -> None:
    owner = desk.signed_in()
    links_page = owner.get("/dashboard/links")
    assert f'href="{FORM}"' in links_page.text
    form = owner.get(FORM)
    assert form.status_code == 200
    assert 'data-testid="bulk-form"' in form.text
    assert "/dashboard/exports/bulk-template.csv" in form.text
    text = (
        f"{HEADER}\n"
        "BULK-1,Kaos polos hitam,150000,budi@example.com,true\n"
        "BULK-2,Topi,lima puluh ribu,,\n"
        "BULK-3,Sepatu,250000,,\n"
    )

    path = batch_path(upload(owner, text, "toko budi.csv"))
    progress = follow(owner, path)

    last = progress[-1]
    assert (last["state"], last["total"], last["done"], last["percent"]) == ("done", 3, 3, 100)
    assert (last["created"], last["existing"], last["errors"]) == (2, 0, 1)
    assert last["result"] is True
    dones = [p["done"] for p in progress]
    assert dones == sorted(dones)
    page = owner.get(path)
    assert page.status_code == 200
    assert 'data-testid="bulk-result"' in page.text
    assert 'data-state="done"' in page.text
    assert 'data-finished="true"' in page.text
    rows = result_rows(owner, path)
    assert list(rows[0]) == list(RESULT_COLUMNS)
    assert [(r["row"], r["reference_id"], r["status"]) for r in rows] == [
        ("2", "BULK-1", "created"),
        ("3", "BULK-2", "error"),
        ("4", "BULK-3", "created"),
    ]
    assert (rows[1]["error_type"], rows[1]["error_field"]) == ("validation-error", "amount")
    assert rows[0]["send_email"] == "sent"
    assert [(m["channel"], m["to"]) for m in outbox(desk)] == [("email", "budi@example.com")]
    for row in (rows[0], rows[2]):
        link = desk.shop.paylink.links.owned(desk.merchant_id, "test", UUID(row["link_id"]))
        assert link is not None
        assert row["url"].endswith(f"/l/{link.code}")
    assert desk.shop.count("PaymentLink.Created") == 2
    desk.catch_up()
    listed = owner.get("/dashboard/links").text
    assert "Kaos polos hitam" in listed
    assert "Sepatu" in listed
    recent = owner.get(FORM).text
    assert 'data-testid="bulk-jobs"' in recent
    assert "toko budi.csv" in recent

    again = follow(owner, batch_path(upload(owner, text)))[-1]
    assert (again["created"], again["existing"], again["errors"]) == (0, 2, 1)
    assert desk.shop.count("PaymentLink.Created") == 2
    assert len(outbox(desk)) == 1


def test_the_progress_moves_while_a_larger_file_runs(sqlite_desk: Desk) -> None:
    owner = sqlite_desk.signed_in()
    rows = "".join(f"MANY-{i:04d},Barang {i},{10_000 + i},,\n" for i in range(2_000))

    path = batch_path(upload(owner, f"{HEADER}\n{rows}"))
    early = owner.get(f"/dashboard/exports/bulk/{path.rsplit('/', 1)[1]}.csv")
    page = owner.get(path)
    progress = follow(owner, path)

    assert early.status_code == 409  # no result file while it runs
    assert 'data-finished="false"' in page.text
    assert f'data-bulk-progress="{path}/progress"' in page.text
    partway = [p for p in progress if 0 < p["done"] < p["total"]]
    assert partway, "the progress was never seen between the first and the last row"
    assert all(0 <= p["percent"] < 100 for p in partway)
    assert progress[-1]["percent"] == 100
    assert progress[-1]["created"] == 2_000
    assert len(result_rows(owner, path)) == 2_000


def test_the_template_downloads_and_uploads_as_one_good_row(desk: Desk) -> None:
    owner = desk.signed_in()

    template = owner.get("/dashboard/exports/bulk-template.csv")

    assert template.status_code == 200
    assert template.headers["content-disposition"] == (
        'attachment; filename="paylink-bulk-links.csv"'
    )
    header, example = list(csv.reader(io.StringIO(template.text)))
    assert tuple(header) == COLUMNS
    assert example[0] == "INV-2026-0042"
    assert example[header.index("expires_at")] == "2026-02-04T23:59:00+07:00"
    path = batch_path(upload(owner, template.text))
    last = follow(owner, path)[-1]
    assert (last["created"], last["errors"]) == (1, 0)
    (row,) = result_rows(owner, path)
    assert row["send_email"] == "sent"


def test_a_file_that_cannot_be_read_is_shown_beside_the_form_and_stores_nothing(
    sqlite_desk: Desk,
) -> None:
    owner = sqlite_desk.signed_in()
    head = sqlite_desk.shop.head()

    unknown = upload(owner, "reference_id,amout\nR-1,5\n")
    not_utf8 = upload(owner, b"reference_id,description\nR-1,\xffKaos\n")
    empty = upload(owner, "")
    no_file = post(owner, FORM)

    assert unknown.status_code == 400
    assert "&#39;amout&#39;, which is no column" in unknown.text
    assert 'data-testid="bulk-error"' in unknown.text
    assert not_utf8.status_code == 400
    assert "not UTF-8" in not_utf8.text
    assert empty.status_code == 400
    assert "the file is empty" in empty.text
    assert no_file.status_code == 422
    assert "Pilih file CSV" in no_file.text
    assert sqlite_desk.shop.head() == head
    assert 'data-testid="bulk-jobs"' not in owner.get(FORM).text


def test_viewers_and_forged_forms_upload_nothing(sqlite_desk: Desk) -> None:
    viewer = sqlite_desk.signed_in(VIEWER)
    owner = sqlite_desk.signed_in()
    head = sqlite_desk.shop.head()
    text = f"{HEADER}\nR-1,Kaos,1000,,\n"

    form = viewer.get(FORM)
    upload_as_viewer = upload(viewer, text)
    forged = owner.post(
        FORM,
        data={"csrf": "forged"},
        files={"file": ("links.csv", text.encode(), "text/csv")},
        follow_redirects=False,
    )

    assert form.status_code == 403
    assert upload_as_viewer.status_code == 403
    assert forged.status_code == 403
    assert 'data-testid="bulk-links"' not in viewer.get("/dashboard/links").text
    assert sqlite_desk.shop.head() == head


def test_a_batch_is_only_the_uploading_merchants_and_modes(sqlite_desk: Desk) -> None:
    owner = sqlite_desk.signed_in()
    path = batch_path(upload(owner, f"{HEADER}\nR-1,Kaos,1000,,\n"))
    follow(owner, path)
    batch_id = path.rsplit("/", 1)[1]
    other = sqlite_desk.signed_in(OTHER_OWNER)
    stranger = sqlite_desk.client()

    assert other.get(path).status_code == 404
    assert other.get(f"{path}/progress").status_code == 404
    assert other.get(f"/dashboard/exports/bulk/{batch_id}.csv").status_code == 404
    assert other.get(f"{FORM}/guessed-id").status_code == 404
    assert stranger.get(f"{path}/progress").status_code == 401
    assert stranger.get(f"/dashboard/exports/bulk/{batch_id}.csv").status_code == 401
    assert stranger.get(path, follow_redirects=False).status_code == 303
    live = post(owner, "/dashboard/mode", {"mode": "live", "next": "/dashboard"})
    assert live.status_code == 303
    assert owner.get(path).status_code == 404
    assert 'data-testid="bulk-jobs"' not in owner.get(FORM).text
