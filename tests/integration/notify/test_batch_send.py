"""Bulk links sent to their customers: a row's ``send_*`` through ``LinkSender``, per channel.

On SQLite and PostgreSQL: the dev outbox (no provider configured) and a real SMTP server
on 127.0.0.1 (aiosmtpd) that accepts or refuses. A failed send never undoes the create,
and a file sent again sends nothing again.
"""

from __future__ import annotations

import csv
import io

from tests.integration.notify.conftest import SmtpServer
from tests.integration.notify.support import link_event_names, link_events
from tests.support.app import Api, MakeApi, Merchant

HEADER = (
    "reference_id,description,amount,customer_email,customer_phone,"
    "send_email,send_whatsapp,send_sms"
)


def upload(api: Api, merchant: Merchant, text: str, **params: str) -> list[dict[str, str]]:
    response = api.client.post(
        "/v1/links/batch",
        content=text,
        params=params,
        headers=merchant.headers(**{"Content-Type": "text/csv"}),
    )
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_rows_that_ask_are_sent_to_their_customers_and_a_file_sent_again_sends_nothing(
    make_send_api: MakeApi,
) -> None:
    api = make_send_api()
    merchant = api.merchant("Toko Budi")
    text = (
        f"{HEADER}\n"
        "S-1,Kaos polos hitam,150000,budi@example.com,,true,,\n"
        "S-2,Topi,50000,,0812 3456 7890,,yes,1\n"
        "S-3,Sepatu,250000,,,true,,\n"
        "S-4,Celana,seratus,siti@example.com,,true,,\n"
        "S-5,Jaket,300000,ani@example.com,08111111111,false,,\n"
    )

    rows = {row["reference_id"]: row for row in upload(api, merchant, text)}

    sends = {
        ref: (row["status"], row["send_email"], row["send_whatsapp"], row["send_sms"])
        for ref, row in rows.items()
    }
    assert sends == {
        "S-1": ("created", "sent", "", ""),
        "S-2": ("created", "", "sent", "sent"),
        "S-3": ("created", "no-contact", "", ""),
        "S-4": ("error", "", "", ""),
        "S-5": ("created", "", "", ""),
    }
    messages = sorted((line["channel"], line["to"]) for line in api.outbox())
    assert messages == [
        ("email", "budi@example.com"),
        ("sms", "+6281234567890"),
        ("whatsapp", "+6281234567890"),
    ]
    email = next(line for line in api.outbox() if line["channel"] == "email")
    assert email["subject"] == "Tagihan dari Toko Budi: Rp 150.000"
    assert rows["S-1"]["url"] in email["text"]
    assert link_event_names(api.paylink, rows["S-1"]["link_id"]) == ["Sent"]
    assert sorted(link_event_names(api.paylink, rows["S-2"]["link_id"])) == ["Sent", "Sent"]
    assert link_event_names(api.paylink, rows["S-3"]["link_id"]) == []

    again = {row["reference_id"]: row for row in upload(api, merchant, text)}

    assert again["S-1"]["status"] == "existing"
    assert again["S-1"]["send_email"] == "skipped-existing"
    assert (again["S-2"]["send_whatsapp"], again["S-2"]["send_sms"]) == (
        "skipped-existing",
        "skipped-existing",
    )
    assert len(api.outbox()) == 3
    assert link_event_names(api.paylink, rows["S-1"]["link_id"]) == ["Sent"]


def test_messages_go_in_the_language_asked(make_sqlite_send_api: MakeApi) -> None:
    api = make_sqlite_send_api()
    merchant = api.merchant("Toko Budi")

    (row,) = upload(
        api, merchant, f"{HEADER}\nEN-1,Kaos,150000,budi@example.com,,true,,\n", language="en"
    )

    assert row["send_email"] == "sent"
    (email,) = api.outbox()
    assert email["subject"] == "Payment request from Toko Budi: IDR 150,000"


def smtp_api(make: MakeApi, smtp: SmtpServer) -> Api:
    controller, _ = smtp
    return make(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none")


def test_an_email_reaches_the_smtp_server_and_a_refused_one_leaves_the_link_created(
    make_send_api: MakeApi, smtp: SmtpServer
) -> None:
    api = smtp_api(make_send_api, smtp)
    merchant = api.merchant("Toko Budi")
    _, mailbox = smtp

    (delivered,) = upload(api, merchant, f"{HEADER}\nM-1,Kaos,150000,budi@example.com,,true,,\n")

    assert (delivered["status"], delivered["send_email"]) == ("created", "sent")
    (received,) = mailbox.received
    assert received.recipients == ["budi@example.com"]
    assert delivered["url"] in received.part("plain")

    mailbox.replies.extend(["554 5.7.1 Message rejected as spam"] * 3)
    (refused,) = upload(api, merchant, f"{HEADER}\nM-2,Topi,50000,siti@example.com,,true,,\n")

    assert refused["status"] == "created"
    assert refused["send_email"].startswith("failed: smtp: refused: 554 5.7.1")
    assert len(mailbox.received) == 1
    ((name, event),) = link_events(api.paylink, refused["link_id"])
    assert (name, event["channel"]) == ("SendFailed", "email")
    link = api.client.get(f"/v1/links/{refused['link_id']}", headers=merchant.headers()).json()
    assert (link["status"], link["counts"]["sent"]) == ("active", 0)
