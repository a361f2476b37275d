"""Seed a demo merchant with a few links, so a new user has something to look at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from paylink_es.application.services import Paylink
from paylink_es.domain.aggregate import stable_id

DEMO_MERCHANT_ID = stable_id("/demo/merchant")

DEMO_LINKS: list[dict[str, object]] = [
    {
        "reference_id": "DEMO-KAOS-001",
        "description": "Kaos polos hitam",
        "amount": 150000,
        "methods": ["va_bca", "va_bri", "qris", "ewallet_ovo"],
        "usage_limit": 1,
        "customer": {"name": "Budi", "email": "budi@example.com", "phone": "08123456789"},
    },
    {
        "reference_id": "DEMO-DONASI",
        "description": "Donasi bebas untuk masjid",
        "amount_min": 10000,
        "amount_max": 5000000,
        "methods": ["qris", "va_bsi", "ewallet_dana"],
        "usage_limit": None,
    },
    {
        "reference_id": "DEMO-KELAS-10",
        "description": "Kelas memasak (10 kursi)",
        "line_items": [{"name": "Kursi kelas", "quantity": 1, "unit_amount": 250000}],
        "usage_limit": 10,
    },
]


@dataclass(frozen=True)
class DemoSeed:
    """What the demo created: the merchant, a fresh test key and the links."""

    merchant_id: UUID
    secret_key: str
    links: list[tuple[str, str]]  # (description, code)


def seed_demo(app: Paylink) -> DemoSeed:
    """Create (or find) the demo merchant and its links; issues a new test key each run."""
    if DEMO_MERCHANT_ID not in app.app.repository:
        app.merchants.register(
            "Toko Demo Nusantara", "demo@example.com", merchant_id=DEMO_MERCHANT_ID
        )
    key = app.merchants.issue_key(DEMO_MERCHANT_ID, "test")
    expires = app.now() + timedelta(days=30)
    links = []
    for spec in DEMO_LINKS:
        # Each demo link has a reference: a second run finds the first run's link.
        link_id = app.links.find_by_reference(
            DEMO_MERCHANT_ID, "test", str(spec["reference_id"])
        ) or app.links.create(DEMO_MERCHANT_ID, expires_at=expires, **spec)
        details = app.links.get(link_id)
        links.append((details.description, details.code))
    return DemoSeed(DEMO_MERCHANT_ID, key.secret, links)
