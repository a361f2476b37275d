"""Where the hosted page sends the customer back to: the link's URLs, signed for the merchant.

After the outcome of a payment the page redirects the customer to the link's
``success_url`` (the payment verified) or ``failure_url`` (rejected, held for review,
to be refunded, or the link closed while the customer waited), with these query
parameters added to the URL (any ``paylink_*`` parameter already in it is dropped):

=======================  =================================================================
``paylink_result``       ``success`` or ``failure``
``paylink_link_id``      the link's id
``paylink_payment_id``   the payment's id (absent when the customer never started one)
``paylink_reason``       on a failure: ``rejected``, ``review``, ``refund``, ``expired``,
                         ``cancelled`` or ``completed`` (absent on a success)
``paylink_t``            when it was signed, in Unix seconds
``paylink_signature``    hex HMAC-SHA256 under the merchant's redirect secret of the mode
=======================  =================================================================

The signed string is, byte for byte (absent values are empty)::

    t=<paylink_t>&result=<result>&link_id=<link id>&payment_id=<payment id>&reason=<reason>

Every value is ASCII without ``&`` or ``=`` (ids, words, digits), so no encoding is
involved. A merchant checks it with :func:`verify_redirect` or the README's recipe, and
refuses a signature older than :data:`SIGNATURE_TOLERANCE_S` (a replay). The secret is per
merchant and mode (``rdsec_…``), so a test-mode redirect never verifies as a live one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit
from uuid import UUID

from paylink_es.domain.link import NEEDS_REVIEW, REFUND_DUE

SUCCESS: Final = "success"
FAILURE: Final = "failure"
Result = Literal["success", "failure"]
REASONS: Final = ("rejected", "review", "refund", "expired", "cancelled", "completed")
CLOSED_LINK: Final = ("expired", "cancelled", "completed")
PREFIX: Final = "paylink_"
PARAMS: Final = (
    "paylink_result",
    "paylink_link_id",
    "paylink_payment_id",
    "paylink_reason",
    "paylink_t",
    "paylink_signature",
)
SIGNATURE_TOLERANCE_S: Final = 300


@dataclass(frozen=True)
class Outcome:
    """How a customer's visit ended, as the merchant is told."""

    result: Result
    link_id: UUID
    payment_id: UUID | None = None
    reason: str | None = None


def outcome(
    link_id: UUID,
    link_status: str,
    payment_id: UUID | None = None,
    payment_status: str | None = None,
    disposition: str | None = None,
) -> Outcome | None:
    """The outcome a customer is sent back with, or ``None`` while there is none yet.

    A payment decides first: verified (or settled) and not flagged is a success; rejected,
    held for review or due for a refund is a failure. Money that arrived and is being
    checked has no outcome yet. A payment still waiting for money (or no payment) fails
    with the link once the link is closed: expired or cancelled, and, for a payment,
    completed by another one. A link the customer did not start paying is only sent back
    once it expired or was cancelled.
    """
    if payment_id is not None:
        if disposition == NEEDS_REVIEW:
            return Outcome(FAILURE, link_id, payment_id, "review")
        if disposition == REFUND_DUE:
            return Outcome(FAILURE, link_id, payment_id, "refund")
        if payment_status in ("verified", "settled"):
            return Outcome(SUCCESS, link_id, payment_id)
        if payment_status == "rejected":
            return Outcome(FAILURE, link_id, payment_id, "rejected")
        if payment_status == "initiated" and link_status in CLOSED_LINK:
            return Outcome(FAILURE, link_id, payment_id, link_status)
        return None
    if link_status in ("expired", "cancelled"):
        return Outcome(FAILURE, link_id, None, link_status)
    return None


def signed_string(
    timestamp: int, result: str, link_id: str, payment_id: str = "", reason: str = ""
) -> str:
    """What the signature covers (see the module's documentation)."""
    return (
        f"t={timestamp}&result={result}&link_id={link_id}&payment_id={payment_id}&reason={reason}"
    )


def sign(secret: str, message: str) -> str:
    """The hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def redirect_url(base: str, secret: str, done: Outcome, timestamp: int) -> str:
    """``base`` (an http(s) URL the link validated) with the signed outcome added."""
    link_id = str(done.link_id)
    payment_id = str(done.payment_id) if done.payment_id is not None else ""
    reason = done.reason or ""
    signature = sign(secret, signed_string(timestamp, done.result, link_id, payment_id, reason))
    parts = urlsplit(base)
    # The merchant's own parameters stay as they were written; only ours are replaced.
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and not unquote_plus(piece.partition("=")[0]).startswith(PREFIX)
    ]
    ours = [("paylink_result", done.result), ("paylink_link_id", link_id)]
    if payment_id:
        ours.append(("paylink_payment_id", payment_id))
    if reason:
        ours.append(("paylink_reason", reason))
    ours += [("paylink_t", str(timestamp)), ("paylink_signature", signature)]
    url = urlunsplit(parts._replace(query="&".join([*kept, urlencode(ours)])))
    # A quote cannot end the URL of a meta refresh or an attribute early.
    return url.replace("'", "%27").replace('"', "%22")


@dataclass(frozen=True)
class VerifiedRedirect:
    """What a redirect that verified says."""

    result: str
    link_id: str
    payment_id: str | None
    reason: str | None
    timestamp: int


def verify_redirect(
    secrets: str | Sequence[str],
    url: str,
    now: int,
    tolerance: int = SIGNATURE_TOLERANCE_S,
) -> VerifiedRedirect | None:
    """What a merchant does on its success or failure page: the outcome, when the URL's
    ``paylink_*`` parameters are signed by one of ``secrets`` (the current redirect secret,
    and the previous one for a few minutes after rotating it) no more than ``tolerance``
    seconds from ``now``; ``None`` for anything else.

    ``url`` is the whole URL the customer arrived at, or only its query string.
    """
    query = urlsplit(url).query if url.startswith(("http://", "https://", "/")) else url
    query = query.removeprefix("?")
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not name.startswith(PREFIX):
            continue
        if name in values:
            return None  # given twice: which one would the merchant read?
        values[name] = value
    stamp = values.get("paylink_t", "")
    if not (stamp.isascii() and stamp.isdigit()) or abs(now - int(stamp)) > tolerance:
        return None
    result = values.get("paylink_result", "")
    link_id = values.get("paylink_link_id", "")
    payment_id = values.get("paylink_payment_id", "")
    reason = values.get("paylink_reason", "")
    message = signed_string(int(stamp), result, link_id, payment_id, reason)
    given = values.get("paylink_signature", "").encode("ascii", "replace")
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    if not any(hmac.compare_digest(sign(s, message).encode(), given) for s in candidates):
        return None
    return VerifiedRedirect(result, link_id, payment_id or None, reason or None, int(stamp))
