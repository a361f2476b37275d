"""``/v1/links/{id}/send`` and ``/share``: a link by e-mail, SMS or WhatsApp, or to share."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import IdempotencyKey, Owner
from api.deps import PaylinkDep, public_url
from api.idempotency import run_idempotent
from api.problems import ProblemError
from api.routes.links import owned
from api.schemas import COMMON_PROBLEMS, problem_responses
from paylink_es.application.services import Paylink
from paylink_es.bootstrap import Services
from paylink_es.notify import (
    ChannelNotConfiguredError,
    DeliveryFailedError,
    LinkSender,
    Share,
)

router = APIRouter(prefix="/v1/links", tags=["links"], responses=COMMON_PROBLEMS)
SEND_EXAMPLES: list[Any] = [
    {"channel": "email", "to": "budi@example.com", "language": "id"},
    {"channel": "whatsapp", "to": "0812-3456-7890", "language": "en"},
    {"channel": "sms", "to": "+62 812 3456 7890"},
]


class SendRequest(BaseModel):
    """Where to send the link, by which channel, in which language."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": SEND_EXAMPLES})
    channel: Literal["email", "sms", "whatsapp"]
    to: str = Field(
        min_length=1,
        max_length=254,
        description="An e-mail address, or a phone number (08… and +62… become E.164)",
    )
    language: Literal["id", "en"] = Field(default="id", description="Bahasa Indonesia or English")


class ShareOut(BaseModel):
    """What a merchant needs to share a link themselves."""

    object: Literal["link_share"] = "link_share"
    language: str
    url: str = Field(description="The short URL of the hosted page")
    qr_url: str
    text: str = Field(description="A text for social posts, with the short URL")
    whatsapp_text: str
    whatsapp_url: str = Field(description="https://wa.me/?text=… opens WhatsApp with the text")


class SendOut(BaseModel):
    """A link that went out."""

    object: Literal["link_send"] = "link_send"
    channel: str
    to: str = Field(description="The recipient, masked")
    delivered_to: str = Field(description="smtp, sms-gateway, whatsapp or dev-outbox")
    attempts: int
    share: ShareOut


def share_out(share: Share) -> ShareOut:
    """The API's view of a share payload."""
    return ShareOut.model_validate(share, from_attributes=True)


def link_sender(request: Request, paylink: Paylink) -> LinkSender:
    """A sender on the notifiers this app's services were built with."""
    services: Services = request.app.state.services
    return LinkSender(paylink, services.notifications, public_url(request))


@router.post(
    "/{link_id}/send",
    response_model=SendOut,
    summary="Send a payment link by e-mail, SMS or WhatsApp",
    responses=problem_responses(404, 409, 502, 503),
)
def send_link(
    link_id: UUID,
    body: SendRequest,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Deliver the link now; every attempt is recorded (``link.sent`` or a failed send).

    409: the link is closed or expired. 502 ``/problems/send-failed``: the provider
    refused or did not answer after retries (the failure is recorded; like any answer it
    is replayed for the same ``Idempotency-Key``, so try again with a new key). 503: the
    channel has no provider on this server.
    """

    def execute() -> tuple[int, SendOut]:
        details = owned(paylink, owner, link_id)
        sender = link_sender(request, paylink)
        try:
            outcome = sender.send(details, body.channel, body.to, body.language)
        except DeliveryFailedError as error:
            raise ProblemError(
                502,
                "send-failed",
                f"the {body.channel} message was not delivered: {error.reason}",
            ) from None
        except ChannelNotConfiguredError as error:
            raise ProblemError(503, "channel-not-configured", str(error), field="channel") from None
        return 200, SendOut(
            channel=outcome.channel,
            to=outcome.recipient,
            delivered_to=outcome.delivery.delivered_to,
            attempts=outcome.delivery.attempts,
            share=share_out(outcome.share),
        )

    return run_idempotent(request, owner, body, execute)


@router.get(
    "/{link_id}/share",
    response_model=ShareOut,
    summary="Share a payment link: short URL, QR, WhatsApp deep link, post text",
    responses=problem_responses(404),
)
def share_link(
    link_id: UUID,
    request: Request,
    owner: Owner,
    paylink: PaylinkDep,
    language: Annotated[Literal["id", "en"], Query(description="id or en")] = "id",
) -> ShareOut:
    """The share payload of one of the merchant's links; nothing is recorded."""
    details = owned(paylink, owner, link_id)
    return share_out(link_sender(request, paylink).share(details, language))
