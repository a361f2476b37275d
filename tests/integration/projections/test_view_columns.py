"""A view made before a table gained columns gains them when it is opened, on SQLite and
PostgreSQL: its rows stay, the new columns are empty for them, and events from then on
fill them. Opening it again changes nothing."""

from __future__ import annotations

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from projections.payments import PAYER_COLUMNS
from projections.queries.payments import payment_detail
from tests.support.read_models import catch_up, change_view, opened_views


def test_the_payments_view_of_an_older_version_gains_the_payer_columns(
    backend_settings: Settings, clock: FakeClock
) -> None:
    with open_paylink(backend_settings, clock=clock) as app:
        merchant = app.merchants.register("Toko Lama")
        link = app.links.create(
            merchant,
            amount=50_000,
            description="Kaos",
            usage_limit=None,
            customer_fields={"name": "optional"},
        )
        earlier = app.payments.start(link, "qris")
        with opened_views(backend_settings, ["payments"]) as views:
            catch_up(app, views)
        # The view as a version before payers' details left it: without their columns.
        for column in PAYER_COLUMNS:
            change_view(
                backend_settings, "payments", f"ALTER TABLE {{s}}payments DROP COLUMN {column}", ()
            )
        later = app.payments.start(link, "va_bca", customer={"name": "Ani"}, custom_fields=None)

        for _ in range(2):  # the second opening finds the columns there
            with opened_views(backend_settings, ["payments"]) as views:
                catch_up(app, views)
                old = payment_detail(views, merchant, "test", earlier)
                new = payment_detail(views, merchant, "test", later)
            assert old is not None
            assert new is not None
            assert (old["method"], old["status"], old["amount"]) == ("qris", "initiated", 50_000)
            payer = (old["customer_name"], old["customer_phone"], old["custom_fields"])
            assert payer == (None, None, None)  # the row kept, the columns gained empty
            assert (new["method"], new["customer_name"], new["custom_fields"]) == (
                "va_bca",
                "Ani",
                None,
            )
