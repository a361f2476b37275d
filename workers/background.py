"""The background workers of a process: the read models' runner, the webhook sender, the
settlement, expiry and message schedulers and the channel poller.

``paylink serve`` runs them beside its HTTP app, ``paylink projections run`` on their own.
On PostgreSQL every such process is a candidate for each of them and one node at a time
leads each (``paylink_es.store.leases``): the others stay cold and take over when the
leader goes. On SQLite the process runs them all, as on one machine.
"""

from __future__ import annotations

from collections.abc import Mapping

from paylink_es.application.channel_port import ChannelPort
from paylink_es.application.services import Paylink
from paylink_es.notify.channels import Notifications
from paylink_es.notify.messaging import Messenger
from paylink_es.settings import Settings
from paylink_es.store.leases import (
    CHANNELS,
    EXPIRY,
    MESSAGES,
    PROJECTIONS,
    SETTLEMENT,
    WEBHOOKS,
    ElectedThread,
    claims_for,
    leases_for,
)
from projections.freshness import PositionWatch
from projections.runner import ProjectionService, ReadModels
from workers.channel_poller import ChannelPoller
from workers.expiry import ExpiryScheduler
from workers.messages import MessageScheduler
from workers.settlement import SettlementScheduler
from workers.webhook_sender import CLAIM_TTL_S, DeliveryWorker


class Background:
    """Every background worker the settings turn on, each run while this node leads it."""

    def __init__(
        self,
        settings: Settings,
        paylink: Paylink,
        models: ReadModels,
        channels: Mapping[str, ChannelPort],
        watch: PositionWatch | None = None,
        *,
        notifications: Notifications | None = None,
    ) -> None:
        self.leases = leases_for(settings)
        lease = self.leases.lease
        self.service = ProjectionService(
            settings, paylink.app, models, watch, lease=lease(PROJECTIONS)
        )
        self.worker = DeliveryWorker(
            paylink,
            models.outbox(),
            allow_private=settings.allow_private_webhooks,
            claims=claims_for(
                getattr(paylink.app.recorder, "datastore", None), WEBHOOKS, CLAIM_TTL_S
            ),
        )
        self.sender = ElectedThread("webhook-delivery", lease(WEBHOOKS), self.worker.run_forever)
        self.settler: SettlementScheduler | None = None
        if settings.settle_every_s > 0:
            self.settler = SettlementScheduler(
                paylink, models, settings.settle_every_s, lease(SETTLEMENT)
            )
        self.expirer: ExpiryScheduler | None = None
        if settings.expire_every_s > 0:
            self.expirer = ExpiryScheduler(paylink, models, settings.expire_every_s, lease(EXPIRY))
        self.messages: MessageScheduler | None = None
        if settings.messages_every_s > 0 and notifications is not None:
            self.messages = MessageScheduler(
                Messenger(paylink, notifications, settings.public_url),
                models,
                settings.messages_every_s,
                settings.message_max_age_s,
                lease(MESSAGES),
            )
        self.poller: ChannelPoller | None = None
        if settings.channel_poll_s > 0 and any(c.remote for c in channels.values()):
            self.poller = ChannelPoller(
                paylink, models, channels, settings.channel_poll_s, lease(CHANNELS)
            )

    def start(self) -> None:
        """Take the workers no node leads (all of them, for a lone node), then run them."""
        self.leases.start()
        self.service.start()
        self.sender.start()
        for scheduler in (self.settler, self.expirer, self.messages, self.poller):
            if scheduler is not None:
                scheduler.start()

    def stop(self) -> None:
        """Stop polling, settling, expiring, messaging and sending, then the projections; give every
        lease up, so another node takes the workers over at once."""
        for scheduler in (self.poller, self.settler, self.expirer, self.messages):
            if scheduler is not None:
                scheduler.stop()
        self.sender.stop(timeout=15)
        self.worker.close()
        self.service.stop()
        self.leases.close()
