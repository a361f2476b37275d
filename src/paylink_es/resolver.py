"""The DNS adapter for webhooks: what a host name resolves to, as the system sees it.

Kept out of :mod:`paylink_es.domain.webhooks` so the domain looks nothing up; the application
(:meth:`WebhookServices.create_webhook_endpoint`) and the delivery worker call it, and
tests pass a fake instead.
"""

from __future__ import annotations

import socket


def system_resolver(host: str) -> list[str]:
    """The addresses ``host`` resolves to, in the system's order of preference.

    Raises ``OSError`` (``socket.gaierror``) when it does not resolve.
    """
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
