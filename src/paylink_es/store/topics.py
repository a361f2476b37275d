"""Topics of events stored before the domain moved into ``paylink_es.domain``.

A stored event names its class by topic (``paylink_es.link:PaymentLink.Created``).
The modules that define events moved (``paylink_es.domain.link``); the library resolves
an old topic through a registered module, so every event ever stored still decodes.
New events are stored under the new topics.
"""

from __future__ import annotations

import importlib

from eventsourcing.utils import register_topic

# Where each module that defines stored events lived, and where it lives now.
MOVED_MODULES = {
    "paylink_es.link": "paylink_es.domain.link",
    "paylink_es.payment": "paylink_es.domain.payment",
    "paylink_es.merchant": "paylink_es.domain.merchant",
    "paylink_es.settlement": "paylink_es.domain.settlement",
    "paylink_es.webhooks": "paylink_es.domain.webhooks",
    "paylink_es.users": "paylink_es.domain.users",
    "paylink_es.idempotency": "paylink_es.domain.idempotency",
}
_registered = False


def register_moved_modules() -> None:
    """Let the old topics resolve (once per process)."""
    global _registered
    if _registered:
        return
    for old, new in MOVED_MODULES.items():
        register_topic(old, importlib.import_module(new))
    _registered = True
