"""The hosted payment page: ``/l/{code}`` — choose, pay, and watch it become a receipt.

Server-rendered, works without JavaScript (forms and a meta refresh), Bahasa Indonesia
by default. Nothing private to the merchant is shown: name, description, items, amount.

Once the visit has an outcome (see :func:`paylink_es.domain.redirects.outcome`) and the
link has the URL for it (``success_url``, ``failure_url``), the page sends the customer
there after :data:`REDIRECT_DELAY_S` seconds, by script and by a meta refresh, through
``…/return``: that route signs the outcome at the moment of the redirect and answers
303 to the link's URL. No URL is ever taken from the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from api.channel_registry import ChannelUnavailableError, offered_methods
from api.channel_registry import start_payment as start_channel_payment
from api.pages import (
    csrf_ok,
    csrf_token,
    is_preview_fetch,
    language,
    merchant_brand,
    qr_png,
    qr_svg,
    remember_payment,
    remembered_payment,
    render,
    render_message,
    visitor_id,
)
from api.sandbox import simulate
from paylink_es.application.details import LinkDetails, PaymentDetails
from paylink_es.application.services import Paylink
from paylink_es.domain.errors import AnswerInvalidError, DomainError, NotFoundError
from paylink_es.domain.fields import ANSWER_LENGTH, REQUIRED
from paylink_es.domain.link import PAYABLE_STATUSES
from paylink_es.domain.methods import method_family
from paylink_es.domain.redirects import SUCCESS, Outcome, outcome, redirect_url
from paylink_es.locale import (
    PAGE_TEXT,
    Language,
    format_link_amount,
    format_money,
    method_name,
    read_amount,
)

router = APIRouter(include_in_schema=False)
FAMILIES = ("virtual_account", "qris", "ewallet", "card", "retail")
REDIRECT_DELAY_S = 3  # the outcome is shown this long before the customer is sent back


def _paylink(request: Request) -> Paylink:
    paylink: Paylink = request.app.state.paylink
    return paylink


def _link(request: Request, code: str) -> tuple[LinkDetails, str] | None:
    paylink = _paylink(request)
    try:
        details = paylink.links.get(paylink.links.id_for_code(code))
    except NotFoundError:
        return None
    return details, merchant_brand(request, details.merchant_id)


def _groups(request: Request, details: LinkDetails) -> list[tuple[str, list[tuple[str, str]]]]:
    # Only what a channel here can take and confirm: a live card payment is never offered.
    methods = offered_methods(request.app.state, details)
    lang = language(request)
    return [
        (family, [(m, method_name(m, lang)) for m in methods if method_family(m) == family])
        for family in FAMILIES
        if any(method_family(m) == family for m in methods)
    ]


@dataclass(frozen=True)
class Question:
    """A field the page asks the payer: a customer detail or one of the link's own."""

    name: str  # the input's name, as the domain names the field: customer.phone
    label: str
    kind: str  # name, email, phone, address; text, number, dropdown
    required: bool
    limit: int
    options: tuple[str, ...] = ()


def questions(details: LinkDetails, lang: Language) -> list[Question]:
    """What the link's page asks, in its order: the customer details, then its own fields."""
    t = PAGE_TEXT[lang]
    asked = [
        Question(
            f"customer.{part}", t[f"customer_{part}"], part, rule == REQUIRED, ANSWER_LENGTH[part]
        )
        for part, rule in details.customer_fields.items()
    ]
    asked.extend(
        Question(
            f"custom_fields.{field.key}",
            field.label_in(lang),
            field.type,
            field.required,
            field.limit,
            tuple(field.options),
        )
        for field in details.custom_fields
    )
    return asked


def answered(
    details: LinkDetails, payment: PaymentDetails, lang: Language
) -> list[tuple[str, str]]:
    """What the payer entered on the page, as the page asked it (label, answer), in the
    page's order; questions left blank are left out."""
    given: dict[str, str] = {
        f"custom_fields.{key}": value for key, value in payment.custom_fields.items()
    }
    if payment.customer is not None:
        for part in ("name", "email", "phone", "address"):
            value = getattr(payment.customer, part)
            if value:
                given[f"customer.{part}"] = value
    return [
        (asked.label, given[asked.name])
        for asked in questions(details, lang)
        if given.get(asked.name)
    ]


def _answers(form: FormData, details: LinkDetails) -> tuple[dict[str, object], dict[str, object]]:
    """What the payer entered for the customer details and the custom fields the link asks
    (nothing else of the form is read)."""
    customer: dict[str, object] = {
        part: form.get(f"customer.{part}") for part in details.customer_fields
    }
    custom: dict[str, object] = {
        field.key: form.get(f"custom_fields.{field.key}") for field in details.custom_fields
    }
    return customer, custom


async def _form(request: Request) -> FormData:
    """The posted form (parsed once: the route's own form fields read the same)."""
    return await request.form()


def _link_page(
    request: Request,
    code: str,
    details: LinkDetails,
    merchant: str,
    status: int = 200,
    error: str | None = None,
    offered: str | None = None,
    chosen: str | None = None,
    typed: dict[str, str] | None = None,
    invalid: str | None = None,
) -> Response:
    now = _paylink(request).now()
    left, seconds = "", 0
    if details.expires_at is not None:
        seconds = max(0, int((details.expires_at - now).total_seconds()))
        left = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    groups = _groups(request, details)
    return render(
        request,
        "link.html",
        part_min=_part_min(details),
        status=status,
        link=details,
        merchant=merchant,
        code=code,
        items=details.line_items,
        seconds_left=seconds,
        groups=groups,
        left=left,
        csrf=csrf_token(request, code),
        error=error,
        offered=offered,
        chosen=chosen or (groups[0][1][0][0] if groups else None),
        title=details.description,
        currency=details.currency,
        test_mode=details.mode == "test",
        questions=questions(details, language(request)),
        typed=typed or {},
        invalid=invalid,
    )


def _part_min(details: LinkDetails) -> int | None:
    """The least part the page asks for on a link paid in parts: ``partial_min`` for the
    first, 1 after it (each method's own minimum still holds); None for other links."""
    if details.amount_due is None:
        return None
    return (details.partial_min or 1) if details.amount_paid == 0 else 1


def _form_error(
    request: Request, error: DomainError, details: LinkDetails, offered: str | None
) -> str:
    """What went wrong with the form, in the page's language."""
    lang = language(request)
    t = PAGE_TEXT[lang]
    if isinstance(error, AnswerInvalidError):
        label = next(
            (asked.label for asked in questions(details, lang) if asked.name == error.field),
            error.field or "",
        )
        words = t.get(f"answer_{error.kind}", t["answer_text"])
        return words.format(field=label, **error.params)
    least = _part_min(details)
    typed = details.amount is None or least is not None  # the customer typed an amount
    if error.type == "amount-invalid" and typed and offered and not offered.isdigit():
        return t["amount_unreadable"]
    if least is not None and details.amount_due is not None:
        if error.type == "amount-invalid":
            return t["part_error"].format(
                low=format_money(least, details.currency, lang),
                high=format_money(details.amount_due, details.currency, lang),
            )
        if error.type == "method-unavailable" and error.field == "amount":
            return t["part_method_error"]
    if error.type == "amount-invalid" and details.amount is None:
        span = format_link_amount(
            None, details.amount_min, details.amount_max, details.currency, lang, t
        )
        return t["amount_error"].format(range=span)
    if error.type == "payment-method-unknown":
        return t["method_error"]
    return t["bad_request"]


def _closed(request: Request, details: LinkDetails, merchant: str) -> Response | None:
    if details.status in PAYABLE_STATUSES:
        return None
    if details.status == "inactive":  # the merchant's own words instead of the methods
        t = PAGE_TEXT[language(request)]
        return render(
            request,
            "message.html",
            heading=t["inactive"],
            detail=t["inactive_says" if details.inactive_message else "inactive_detail"],
            note=details.inactive_message,
            merchant=merchant,
            title=details.description,
        )
    code = details.code
    back = f"/l/{code}/return" if _merchant_url(request, details) is not None else None
    t = PAGE_TEXT[language(request)]
    return render(
        request,
        "message.html",
        heading=t[details.status],
        detail=t.get(f"{details.status}_detail", ""),
        merchant=merchant,
        title=t[details.status],
        about=details.description,  # what the link was for
        receipt_url=_receipt_of_this_visitor(request, details),
        return_url=back,
        redirect_delay=REDIRECT_DELAY_S,
    )


def _receipt_of_this_visitor(request: Request, details: LinkDetails) -> str | None:
    """The receipt of the payment this browser made on the link, if it was paid."""
    payment_id = remembered_payment(request, details.code)
    payment = None if payment_id is None else _payment_of(request, details, payment_id)
    if payment is None:
        return None
    done = _outcome(details, payment)
    if done is None or done.result != SUCCESS:
        return None
    return f"/l/{details.code}/p/{payment.id}?lang={language(request)}"


def _outcome(details: LinkDetails, payment: PaymentDetails | None = None) -> Outcome | None:
    if payment is None:
        return outcome(details.id, details.status)
    return outcome(details.id, details.status, payment.id, payment.status, payment.disposition)


def _merchant_url(
    request: Request,
    details: LinkDetails,
    payment: PaymentDetails | None = None,
    *,
    signed: bool = False,
) -> str | None:
    """The link's URL for this visit's outcome (``None``: no outcome yet, or no URL for it);
    ``signed``: with the outcome and its signature added, as the merchant receives it."""
    done = _outcome(details, payment)
    if done is None:
        return None
    base = details.success_url if done.result == SUCCESS else details.failure_url
    if base is None or not signed:
        return base
    secret = _paylink(request).merchants.redirect_secret(details.merchant_id, details.mode)
    return redirect_url(base, secret, done, int(time.time()))


def _see_other(target: str) -> Response:
    """303 to ``target``, never cached (the outcome and its signature are of now)."""
    return RedirectResponse(
        target, 303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@router.api_route("/l/{code}", methods=["GET", "HEAD"])
def open_link(code: str, request: Request) -> Response:
    """The link's page; the first visit of a visitor session records an Opened event."""
    found = _link(request, code)
    if found is None:
        return render_message(request, 404, "not_found")
    details, merchant = found
    closed = _closed(request, details, merchant)
    if closed is not None:
        return closed
    cookie = f"pl_opened_{code}"
    page = _link_page(request, code, details, merchant)
    if not is_preview_fetch(request) and cookie not in request.cookies:
        _paylink(request).links.open(details.id, visitor_id(request))
        page.set_cookie(
            cookie,
            "1",
            httponly=True,
            samesite="lax",
            secure=request.app.state.settings.environment == "production",
        )
    return page


@router.post("/l/{code}/pay")
def pay(
    code: str,
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    csrf: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:
    """Start a payment by the chosen method, with the details and fields the link asks;
    tampered forms and bad answers get a 4xx page saying what is wrong, nothing stored."""
    found = _link(request, code)
    if found is None:
        return render_message(request, 404, "not_found")
    details, merchant = found
    if not csrf_ok(request, code, csrf):
        return render_message(request, 403, "bad_request", merchant, "forbidden")
    closed = _closed(request, details, merchant)
    if closed is not None:
        return closed
    # "25.000" as Indonesians write it (or "25,000", "Rp 25.000") is read as 25000.
    offered: str | None = read_amount(amount, details.currency) or None
    customer, custom = _answers(form, details)
    try:
        # The channel is chosen per payment: sandbox in test mode, Winpay in live mode.
        payment_id = start_channel_payment(
            request.app.state,
            _paylink(request),
            details,
            method,
            offered,
            merchant,
            customer=customer,
            custom_fields=custom,
        )
    except ChannelUnavailableError:
        return render_message(request, 503, "bad_request", merchant, "unavailable")
    except DomainError as error:
        status = 409 if error.type == "link-not-payable" else 400
        message = _form_error(request, error, details, offered)
        return _link_page(
            request,
            code,
            details,
            merchant,
            status=status,
            error=message,
            offered=amount.strip() or None,  # as typed, to correct
            chosen=method if method in details.methods else None,
            typed={
                asked.name: value
                for asked in questions(details, language(request))
                if isinstance(value := form.get(asked.name), str)
            },
            invalid=error.field if isinstance(error, AnswerInvalidError) else None,
        )
    started = RedirectResponse(f"/l/{code}/p/{payment_id}?lang={language(request)}", 303)
    remember_payment(request, started, code, payment_id)
    return started


def _payment(
    request: Request, code: str, payment_id: UUID
) -> tuple[LinkDetails, str, PaymentDetails] | None:
    found = _link(request, code)
    payment = None if found is None else _payment_of(request, found[0], payment_id)
    if found is None or payment is None:
        return None
    return found[0], found[1], payment


def _payment_of(request: Request, link: LinkDetails, payment_id: UUID) -> PaymentDetails | None:
    """The payment if it is one of ``link``'s; None for an unknown one or another link's."""
    try:
        payment = _paylink(request).payments.get(payment_id)
    except NotFoundError:
        return None
    return payment if payment.link_id == link.id else None


def _context(
    request: Request, code: str, details: LinkDetails, merchant: str, payment: PaymentDetails
) -> dict[str, Any]:
    done = _outcome(details, payment)
    back = None
    if _merchant_url(request, details, payment) is not None:
        back = f"/l/{code}/p/{payment.id}/return"
    return {
        "outcome": done,
        "return_url": back,
        "redirect_delay": REDIRECT_DELAY_S,
        "link": details,
        "merchant": merchant,
        "payment": payment,
        "code": code,
        "csrf": csrf_token(request, code),
        "currency": payment.amount.currency,
        "test_mode": details.mode == "test",
        "method_label": method_name(payment.method, language(request)),
        "answers": answered(details, payment, language(request)),
        "title": details.description,
    }


@router.get("/l/{code}/p/{payment_id}")
def payment_page(code: str, payment_id: UUID, request: Request) -> Response:
    """Instructions while the payment is awaited; the receipt (or why it failed) once
    there is an outcome, which sends the customer back to the merchant."""
    found = _payment(request, code, payment_id)
    if found is None:
        return render_message(request, 404, "not_found")
    context = _context(request, code, *found)
    template = "receipt_page.html" if context["outcome"] is not None else "payment.html"
    return render(request, template, **context)


@router.get("/l/{code}/p/{payment_id}/receipt")
def receipt_fragment(code: str, payment_id: UUID, request: Request) -> Response:
    """The receipt, once there is an outcome (204 until then): the page polls this."""
    found = _payment(request, code, payment_id)
    if found is None:
        return Response(status_code=404)
    context = _context(request, code, *found)
    if context["outcome"] is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return render(request, "receipt.html", **context)


@router.get("/l/{code}/p/{payment_id}/return")
def return_from_payment(code: str, payment_id: UUID, request: Request) -> Response:
    """303 to the link's success or failure URL with the outcome signed now; back to the
    payment's page while there is no outcome (or no URL for it)."""
    found = _payment(request, code, payment_id)
    if found is None:
        return render_message(request, 404, "not_found")
    target = _merchant_url(request, found[0], found[2], signed=True)
    if target is None:
        return _see_other(f"/l/{code}/p/{payment_id}?lang={language(request)}")
    return _see_other(target)


@router.get("/l/{code}/return")
def return_from_link(code: str, request: Request) -> Response:
    """303 to the link's failure URL once it expired or was cancelled (signed now); back
    to the link's page otherwise."""
    found = _link(request, code)
    if found is None:
        return render_message(request, 404, "not_found")
    target = _merchant_url(request, found[0], signed=True)
    if target is None:
        return _see_other(f"/l/{code}?lang={language(request)}")
    return _see_other(target)


@router.post("/l/{code}/p/{payment_id}/simulate")
def simulate_payment(
    code: str, payment_id: UUID, request: Request, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Test mode: the sandbox pays, by a signed callback over HTTP to our own endpoint."""
    found = _payment(request, code, payment_id)
    if found is None or found[0].mode != "test" or found[2].channel != "sandbox":
        return render_message(request, 404, "not_found")
    if not csrf_ok(request, code, csrf):
        return render_message(request, 403, "bad_request", found[1], "forbidden")
    if found[2].status == "initiated":  # a second click pays nothing more
        simulate(request, found[2])
    return RedirectResponse(f"/l/{code}/p/{payment_id}?lang={language(request)}", 303)


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@router.post("/l/{code}/p/{payment_id}/card")
def pay_by_card(
    code: str,
    payment_id: UUID,
    request: Request,
    csrf: Annotated[str, Form()] = "",
    card_number: Annotated[str, Form()] = "",
    card_expiry: Annotated[str, Form()] = "",
    card_cvc: Annotated[str, Form()] = "",
) -> Response:
    """Sandbox card form: checks the number's shape and pays; the number is never kept."""
    found = _payment(request, code, payment_id)
    if (
        found is None
        or found[2].method != "card"
        or found[0].mode != "test"
        or found[2].channel != "sandbox"
    ):
        return render_message(request, 404, "not_found")
    if not csrf_ok(request, code, csrf):
        return render_message(request, 403, "bad_request", found[1], "forbidden")
    number = card_number.replace(" ", "")
    month, _, year = card_expiry.partition("/")
    valid = (
        number.isdigit()
        and 12 <= len(number) <= 19
        and _luhn(number)
        and month.isdigit()
        and year.isdigit()
        and 1 <= int(month) <= 12
        and card_cvc.isdigit()
        and len(card_cvc) in (3, 4)
    )
    if not valid:
        context = _context(request, code, *found)
        return render(request, "payment.html", status=400, **context)
    if found[2].status == "initiated":
        simulate(request, found[2])
    return RedirectResponse(f"/l/{code}/p/{payment_id}?lang={language(request)}", 303)


@router.get("/l/{code}/p/{payment_id}/qris.svg")
def qris_image(code: str, payment_id: UUID, request: Request) -> Response:
    """The QRIS code a customer scans."""
    found = _payment(request, code, payment_id)
    content = found[2].instructions.get("qr_content") if found else None
    if not content:
        return Response(status_code=404)
    return Response(qr_svg(content), media_type="image/svg+xml")


@router.get("/l/{code}/qr.svg")
def link_qr_svg(code: str, request: Request) -> Response:
    """A QR code of the short URL, to print or share."""
    return _link_qr(request, code, qr_svg, "image/svg+xml")


@router.get("/l/{code}/qr.png")
def link_qr_png(code: str, request: Request) -> Response:
    """The same QR code as PNG."""
    return _link_qr(request, code, qr_png, "image/png")


def _link_qr(request: Request, code: str, draw: Callable[[str], bytes], media: str) -> Response:
    """The QR code of a link's short URL, drawn by ``draw``; 404 for an unknown link."""
    if _link(request, code) is None:
        return Response(status_code=404)
    url = f"{request.app.state.settings.public_url}/l/{code}"
    return Response(draw(url), media_type=media, headers={"Cache-Control": "public, max-age=86400"})
