"""Events stored before the domain moved into ``paylink_es.domain`` still decode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from paylink_es.bootstrap import open_paylink
from paylink_es.domain.merchant import Merchant
from paylink_es.settings import Settings
from paylink_es.store.topics import MOVED_MODULES, register_moved_modules


def test_a_store_written_under_the_old_module_names_reads_as_before(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with open_paylink(settings) as app:
        merchant_id = app.merchants.register("Toko Lama", "lama@example.com")
        app.merchants.set_bank_account(merchant_id, "BCA", "1234567890", "Toko Lama")
    with sqlite3.connect(settings.sqlite_path("paylink")) as db:
        moved = db.execute(
            "UPDATE stored_events SET topic = replace(topic, 'paylink_es.domain.', 'paylink_es.')"
        ).rowcount
    assert moved == 2  # Registered, SettlementAccountSet

    with open_paylink(settings) as app:
        merchant = app.merchants.get(merchant_id)
        assert (merchant.name, merchant.bank_account) == (
            "Toko Lama",
            {"bank": "BCA", "account_number": "1234567890", "account_name": "Toko Lama"},
        )
        old = [n.topic for n in app.app.recorder.select_notifications(1, 10)]
        assert all(topic.startswith("paylink_es.merchant:") for topic in old)


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_every_event_class_resolves_from_its_old_topic(old: str) -> None:
    from eventsourcing.utils import get_topic, resolve_topic

    register_moved_modules()
    new = MOVED_MODULES[old]
    module = __import__(new, fromlist=["_"])
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == new and hasattr(value, "Event")
    ]
    assert classes, f"{new} defines no aggregate"
    for cls in classes:
        for name, event_class in vars(cls).items():
            if isinstance(event_class, type) and get_topic(event_class).startswith(new + ":"):
                old_topic = get_topic(event_class).replace(new, old, 1)
                assert resolve_topic(old_topic) is event_class, (name, old_topic)


def test_new_events_are_stored_under_the_new_names(tmp_path: Path) -> None:
    with open_paylink(Settings(data_dir=tmp_path)) as app:
        app.merchants.register("Toko Baru", "baru@example.com")
        topics = [n.topic for n in app.app.recorder.select_notifications(1, 10)]
    assert topics[0] == f"{Merchant.__module__}:Merchant.Registered"
