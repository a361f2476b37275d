"""``/v1/merchant/alerts`` and ``/v1/merchant/reminders``: the merchant's message settings.

Alerts are e-mails to the merchant (a payment received, a link expired unpaid, a webhook
endpoint failing, a payout paid or failed); reminders are what links take by default
before they expire. Both are the merchant's, whichever mode the key is of.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Owner
from api.deps import PaylinkDep
from api.schemas import COMMON_PROBLEMS
from paylink_es.application.messages import MessageSettingsDetails
from paylink_es.domain.alerts import DEFAULT_WEBHOOK_FAILURES, MAX_WEBHOOK_FAILURES
from paylink_es.domain.reminders import written

router = APIRouter(prefix="/v1/merchant", tags=["messages"], responses=COMMON_PROBLEMS)


class AlertsIn(BaseModel):
    """Which alerts the merchant wants e-mailed (a field left out takes its default: on,
    five failures, the registered address, Bahasa Indonesia)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"payment_received": False, "webhook_failures": 3},
                {"email": "keuangan@toko.example", "language": "en"},
            ]
        },
    )
    payment_received: bool = Field(default=True, description="a payment was verified")
    link_expired: bool = Field(default=True, description="a link expired without a payment")
    webhook_failing: bool = Field(
        default=True, description="deliveries to a webhook endpoint failed webhook_failures times"
    )
    webhook_failures: int = Field(
        default=DEFAULT_WEBHOOK_FAILURES,
        ge=1,
        le=MAX_WEBHOOK_FAILURES,
        description="failed deliveries in a row that make an endpoint failing",
    )
    payout_paid: bool = Field(default=True, description="a payout was transferred")
    payout_failed: bool = Field(default=True, description="a payout failed")
    email: str | None = Field(
        default=None, max_length=254, description="where alerts go; null: the registered address"
    )
    language: Literal["id", "en"] = "id"


class AlertsOut(AlertsIn):
    """The merchant's alert settings, and the address alerts go to now."""

    object: Literal["merchant_alerts"] = "merchant_alerts"
    address: str | None = Field(
        description="where alerts go: email, else the registered address; null: none is sent"
    )


class RemindersIn(BaseModel):
    """The reminders a link takes when it is sent without reminders of its own."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reminders": ["24h", "1h"]}]}
    )
    reminders: list[str] = Field(
        max_length=5, description='times before the expiry, like ["24h", "1h"]; [] for none'
    )


class RemindersOut(BaseModel):
    """The merchant's default reminders, the earliest first."""

    object: Literal["merchant_reminders"] = "merchant_reminders"
    reminders: list[str]


def alerts_out(settings: MessageSettingsDetails) -> AlertsOut:
    """The API's view of the alert settings."""
    return AlertsOut(**settings.alerts.to_dict(), address=settings.address)


def reminders_out(settings: MessageSettingsDetails) -> RemindersOut:
    """The API's view of the default reminders."""
    return RemindersOut(reminders=[written(before) for before in settings.reminders])


@router.get("/alerts", response_model=AlertsOut, summary="Read the merchant's alert settings")
def get_alerts(owner: Owner, paylink: PaylinkDep) -> AlertsOut:
    """Which alerts are e-mailed, where and in which language."""
    return alerts_out(paylink.messages.settings(owner.merchant_id))


@router.put("/alerts", response_model=AlertsOut, summary="Set the merchant's alert settings")
def put_alerts(body: AlertsIn, owner: Owner, paylink: PaylinkDep) -> AlertsOut:
    """Replace the alert settings; each cause is alerted at most once, when the merchant
    wants its kind at the time it happens."""
    given = body.model_dump(exclude_unset=True)
    return alerts_out(paylink.messages.set_alerts(owner.merchant_id, given))


@router.get("/reminders", response_model=RemindersOut, summary="Read the links' default reminders")
def get_reminders(owner: Owner, paylink: PaylinkDep) -> RemindersOut:
    """The reminders a link sent without its own takes."""
    return reminders_out(paylink.messages.settings(owner.merchant_id))


@router.put("/reminders", response_model=RemindersOut, summary="Set the links' default reminders")
def put_reminders(body: RemindersIn, owner: Owner, paylink: PaylinkDep) -> RemindersOut:
    """Links sent from now on without reminders of their own remind their customer at
    these times before they expire."""
    return reminders_out(paylink.messages.set_reminders(owner.merchant_id, body.reminders))
