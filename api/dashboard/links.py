"""Links: the filtered list, the create form, a link's detail; send again, edit,
deactivate and reactivate, duplicate and cancel (owners only; each change names the
signed-in user as who made it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.dashboard.dates import shown_day, typed_day
from api.dashboard.forms import (
    CUSTOM_ROWS,
    EDIT_INPUTS,
    ITEM_ROWS,
    LinkForm,
    edit_changes,
    edit_values,
    error_text,
    parse_link_form,
    parse_link_messages,
)
from api.dashboard.money import payment_links
from api.dashboard.paging import CursorQuery, StatusQuery, next_page_query
from api.dashboard.render import fragment, render, said_error, said_notice, words
from api.dashboard.routing import DashboardRoute
from api.dashboard.session import (
    ForbiddenError,
    OwnerFormDep,
    PageNotFoundError,
    Staff,
    StaffDep,
)
from api.deps import get_models, get_paylink
from api.pages import language
from api.params import text
from api.routes.links import details_row, messenger
from api.routes.send import link_sender
from paylink_es.application.details import LinkDetails
from paylink_es.domain.errors import (
    DomainError,
    InvalidFieldError,
    ReferenceReusedError,
    SlugTakenError,
    TransitionInvalidError,
)
from paylink_es.domain.fields import CUSTOMER_PARTS
from paylink_es.domain.methods import PAYMENT_METHODS
from paylink_es.domain.money import CURRENCY_EXPONENTS
from paylink_es.locale import WIB, timeline_sentence
from paylink_es.notify import Channel, ChannelNotConfiguredError, DeliveryFailedError
from projections.queries import links as link_queries
from projections.queries import payments as payment_queries
from projections.queries.links import LinkRow
from projections.queries.paging import Page, QueryError

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
STATUSES = ("active", "partially_paid", "inactive", "completed", "expired", "cancelled")
NOTICES = (
    "created_ok",
    "created_send_failed",
    "sent_ok",
    "cancelled_ok",
    "edited_ok",
    "nothing_changed",
    "deactivated_ok",
    "reactivated_ok",
    "duplicated_ok",
)
OPEN = ("active", "partially_paid", "inactive")  # statuses a link can still be edited in
CHANNELS: dict[str, Channel] = {"email": "email", "sms": "sms", "whatsapp": "whatsapp"}
PAGE_SIZE = 20


def _day_start(value: str, field: str, t: dict[str, str]) -> datetime | None:
    """The start of a typed day (``31/01/2026``) in Jakarta; None when empty."""
    typed = typed_day(value, field, t)
    return datetime.combine(typed, time(), WIB) if typed is not None else None


def link_filters(params: dict[str, str], t: dict[str, str]) -> dict[str, Any]:
    """The list page's filters as arguments of ``link_queries.list_links``, checked.

    The list page, its export and its live stream (which reads a plain dict of the
    query) all come through here, so each parameter is checked once for all three; a
    wrong day is said in the page's language (``t``).
    """
    status = params.get("status") or None
    return {
        "status": status,
        "text": text(params.get("q", ""), "q") or None,
        "created_from": _day_start(params.get("from", ""), "from", t),
        "created_to": _day_start(params.get("to", ""), "to", t),
    }


def link_rows(request: Request, staff: Staff, params: dict[str, str]) -> Page[LinkRow]:
    """One page of the merchant's links under the filters in ``params``."""
    return link_queries.list_links(
        get_models(request),
        staff.merchant_id,
        staff.mode,
        get_paylink(request).now(),
        limit=PAGE_SIZE,
        cursor=params.get("cursor") or None,
        **link_filters(params, words(request)),
    )


def links_regions(request: Request, staff: Staff, params: dict[str, str]) -> dict[str, str]:
    """The list's live region: the first page's rows under the same filters."""
    page = link_rows(request, staff, {**params, "cursor": ""})
    return {"links": fragment(request, "_link_table.html", staff, links=page.items)}


def link_list_params(
    status: StatusQuery = "",
    q: Annotated[str, Query(max_length=200)] = "",
    created_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    created_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> dict[str, str]:
    """The list page's filters from its query, as the page and its export take them."""
    return {"status": status, "q": q, "from": created_from, "to": created_to}


LinkListParams = Annotated[dict[str, str], Depends(link_list_params)]


@router.get("/dashboard/links")
def list_links(
    request: Request, staff: StaffDep, params: LinkListParams, cursor: CursorQuery = ""
) -> Response:
    """Filter by status chip, text and creation days (typed ``31/01/2026``); newest first,
    a cursor page at a time. A day that is no day: the page says so beside its input."""
    t = words(request)
    kept = {key: value for key, value in params.items() if value}
    shown = {**params, **{name: shown_day(params[name], name, t) for name in ("from", "to")}}
    common: dict[str, Any] = {
        "title": t["links_title"],
        "statuses": STATUSES,
        "params": shown,
        "chip_query": lambda chosen: urlencode({**kept, "status": chosen} if chosen else kept),
    }
    try:
        page = link_rows(request, staff, {**params, "cursor": cursor})
    except QueryError as error:
        if error.field not in ("from", "to"):
            raise
        label = t["created_from" if error.field == "from" else "created_to"]
        wrong = {"field": error.field, "text": f"{label}: {error.message}"}
        return render(
            request,
            "links.html",
            staff,
            status=400,
            links=[],
            next_query=None,
            export_query="",
            first_query=None,
            filter_error=wrong,
            **common,
        )
    stream = None
    if not cursor:  # only the first page follows new links live
        stream = "/dashboard/stream?" + urlencode({"page": "links", **kept})
    return render(
        request,
        "links.html",
        staff,
        links=page.items,
        next_query=next_page_query(kept, page.next_cursor),
        export_query=urlencode(kept),
        first_query=urlencode(kept) if cursor else None,
        stream=stream,
        filter_error=None,
        **common,
    )


# What both link forms (new, edit) lay out: the catalogues and the rows of their inputs.
TERMS_INPUTS: dict[str, Any] = {
    "methods": PAYMENT_METHODS,
    "currencies": sorted(CURRENCY_EXPONENTS),
    "item_rows": range(ITEM_ROWS),
    "custom_rows": range(CUSTOM_ROWS),
    "customer_parts": CUSTOMER_PARTS,
}


def _form_page(
    request: Request, staff: Staff, form: LinkForm | None, status: int = 200
) -> Response:
    return render(
        request,
        "link_new.html",
        staff,
        status=status,
        title=words(request)["create_title"],
        values=form.values if form else {"methods": ["va_bca", "va_bri", "qris"], "items": []},
        errors=form.errors if form else {},
        **TERMS_INPUTS,
    )


@router.get("/dashboard/links/new")
def new_link(request: Request, staff: StaffDep) -> Response:
    """Every field of a link, with the hosted page's defaults."""
    if not staff.is_owner:
        raise ForbiddenError("owner_only")
    return _form_page(request, staff, None)


@router.post("/dashboard/links")
async def create_link(request: Request, staff: OwnerFormDep) -> Response:
    """Create the link; bad input comes back with a message beside each wrong field."""
    data = await request.form()
    form = parse_link_form(data, words(request))
    asked = parse_link_messages(data, form, words(request))
    if form.errors:
        return await run_in_threadpool(_form_page, request, staff, form, 422)
    paylink = get_paylink(request)
    try:
        details, created = await paylink.links.create_or_find_async(
            staff.merchant_id, by=staff.user.email, mode=staff.mode, **form.fields
        )
    except (InvalidFieldError, ReferenceReusedError, SlugTakenError) as error:
        form.errors[form.input_for(error.field)] = error_text(error, words(request))
        return await run_in_threadpool(_form_page, request, staff, form, 422)
    notice = "created_ok"
    if asked is not None and created:
        sender = messenger(request, paylink)
        sent = await run_in_threadpool(sender.created, details, asked, staff.user.email)
        if any(result.status == "failed" for result in sent):
            notice = "created_send_failed"  # each failure is on the link's timeline
    return RedirectResponse(f"/dashboard/links/{details.id}?notice={notice}", 303)


def owned_link(request: Request, staff: Staff, link_id: UUID) -> LinkDetails:
    """The link if this session's merchant and mode own it; else the not-found page."""
    details = get_paylink(request).links.owned(staff.merchant_id, staff.mode, link_id)
    if details is None:
        raise PageNotFoundError
    return details


def detail_data(request: Request, staff: Staff, link_id: UUID) -> dict[str, Any]:
    """A link with its timeline and payments (status and counts straight from the paylink)."""
    details = owned_link(request, staff, link_id)
    models = get_models(request)
    now = get_paylink(request).now()
    row = link_queries.link_detail(models, staff.merchant_id, staff.mode, link_id, now)
    payments = payment_queries.list_payments(
        models, staff.merchant_id, staff.mode, link_id=link_id, limit=100
    )
    base = request.app.state.settings.public_url
    lang = language(request)
    return {
        "link": details_row(details),
        "details": details,
        "timeline": row["timeline"] if row is not None else [],
        "payments": payments.items,
        "link_names": payment_links(request, staff, payments.items),
        "url": f"{base}/l/{details.path}",
        "sentence": lambda entry: timeline_sentence(
            lang, entry["event"], entry["detail"], details.currency
        ),
    }


def detail_regions(request: Request, staff: Staff, params: dict[str, str]) -> dict[str, str]:
    """A link's live regions: summary, timeline and payments."""
    try:
        link_id = UUID(params.get("link", ""))
    except ValueError:
        raise PageNotFoundError from None
    data = detail_data(request, staff, link_id)
    return {
        name: fragment(request, f"_link_{name}.html", staff, **data)
        for name in ("summary", "timeline", "payments")
    }


def _detail_page(
    request: Request,
    staff: Staff,
    link_id: UUID,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    send: dict[str, str] | None = None,
) -> Response:
    data = detail_data(request, staff, link_id)
    return render(
        request,
        "link_detail.html",
        staff,
        status=status,
        title=data["details"].description,
        notice=notice,
        error=error,
        send=send or {"channel": "email", "to": ""},
        channels=CHANNELS,
        stream=f"/dashboard/stream?page=link&link={link_id}",
        **data,
    )


@router.get("/dashboard/links/{link_id}")
def link_detail(
    request: Request,
    staff: StaffDep,
    link_id: UUID,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Everything about one link, its timeline live."""
    del notice  # declared for its length limit; said_notice reads it
    return _detail_page(request, staff, link_id, notice=said_notice(request, NOTICES))


@router.post("/dashboard/links/{link_id}/send")
def send_again(
    request: Request,
    staff: OwnerFormDep,
    link_id: UUID,
    channel: Annotated[str, Form(max_length=20)] = "email",
    to: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """Send the link again by e-mail, SMS or WhatsApp (every attempt is on the timeline)."""
    details = owned_link(request, staff, link_id)
    t = words(request)
    chosen = CHANNELS.get(channel, "email")
    lang = language(request)
    sender = link_sender(request, get_paylink(request))
    try:
        sender.send(details, chosen, to, lang)
    except DeliveryFailedError as error:
        message = t["send_failed"].format(reason=error.reason)
        return _detail_page(
            request, staff, link_id, status=502, error=message, send={"channel": chosen, "to": to}
        )
    except (ChannelNotConfiguredError, DomainError) as error:
        reason = said_error(request, error) if isinstance(error, DomainError) else str(error)
        message = t["send_failed"].format(reason=reason)
        return _detail_page(
            request, staff, link_id, status=422, error=message, send={"channel": chosen, "to": to}
        )
    return RedirectResponse(f"/dashboard/links/{link_id}?notice=sent_ok", 303)


@router.post("/dashboard/links/{link_id}/cancel")
def cancel(
    request: Request,
    staff: OwnerFormDep,
    link_id: UUID,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Close the link to new payments."""
    command = partial(get_paylink(request).links.cancel, link_id, reason or None)
    return _change(request, staff, link_id, command, "cancelled_ok")


def _change(
    request: Request,
    staff: Staff,
    link_id: UUID,
    command: Callable[[str], LinkDetails | None],
    notice: str,
    refused: int = 409,
) -> Response:
    """Run ``command`` on one of the merchant's links, naming the signed-in user as who
    made the change; then the page of the link it returns (a new one), or else of this
    link, with ``notice``. A change the link refuses: its page with the reason (status
    ``refused``)."""
    owned_link(request, staff, link_id)
    try:
        made = command(staff.user.email)
    except DomainError as error:
        message = said_error(request, error)
        return _detail_page(request, staff, link_id, status=refused, error=message)
    shown = link_id if made is None else made.id
    return RedirectResponse(f"/dashboard/links/{shown}?notice={notice}", 303)


def _edit_page(
    request: Request,
    staff: Staff,
    details: LinkDetails,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return render(
        request,
        "link_edit.html",
        staff,
        status=status,
        title=words(request)["edit_title"],
        link=details_row(details),
        has_payments=details.uses > 0 or details.flagged_count > 0,
        values=values,
        errors=errors,
        **TERMS_INPUTS,
    )


@router.get("/dashboard/links/{link_id}/edit")
def edit_form(request: Request, staff: StaffDep, link_id: UUID) -> Response:
    """The edit form, prefilled with the link as it stands (owners; open links only)."""
    if not staff.is_owner:
        raise ForbiddenError("owner_only")
    details = owned_link(request, staff, link_id)
    if details.status not in OPEN:
        error = words(request)["edit_closed"]
        return _detail_page(request, staff, link_id, status=409, error=error)
    return _edit_page(request, staff, details, edit_values(details), {})


@router.post("/dashboard/links/{link_id}/edit")
async def edit(request: Request, staff: OwnerFormDep, link_id: UUID) -> Response:
    """Save what the form changed; bad input comes back beside each wrong field, checked
    by the same rules as the create form (and a link with payments keeps its amount)."""
    details = await run_in_threadpool(owned_link, request, staff, link_id)
    form = parse_link_form(await request.form(), words(request))
    form.errors = {name: message for name, message in form.errors.items() if name in EDIT_INPUTS}
    if form.errors:
        return await run_in_threadpool(
            _edit_page, request, staff, details, form.values, form.errors, 422
        )
    changes = edit_changes(form, edit_values(details))
    paylink = get_paylink(request)
    try:
        _, changed = await run_in_threadpool(
            lambda: paylink.links.edit(link_id, staff.user.email, **changes)
        )
    except DomainError as error:
        name = form.input_for(error.field)
        if name.startswith("item_"):  # the link's items fix its amount
            name = "amount"
        form.errors[name if name in EDIT_INPUTS else "form"] = error_text(error, words(request))
        status = 409 if isinstance(error, TransitionInvalidError) else 422
        return await run_in_threadpool(
            _edit_page, request, staff, details, form.values, form.errors, status
        )
    notice = "edited_ok" if changed else "nothing_changed"
    return RedirectResponse(f"/dashboard/links/{link_id}?notice={notice}", 303)


@router.post("/dashboard/links/{link_id}/deactivate")
def deactivate(
    request: Request,
    staff: OwnerFormDep,
    link_id: UUID,
    message: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Stop the link taking payments; its page shows the message instead of the methods."""
    command = partial(get_paylink(request).links.deactivate, link_id, message or None)
    return _change(request, staff, link_id, command, "deactivated_ok")


@router.post("/dashboard/links/{link_id}/reactivate")
def reactivate(request: Request, staff: OwnerFormDep, link_id: UUID) -> Response:
    """Let an inactive link take payments again."""
    command = partial(get_paylink(request).links.reactivate, link_id)
    return _change(request, staff, link_id, command, "reactivated_ok")


@router.post("/dashboard/links/{link_id}/duplicate")
def duplicate(request: Request, staff: OwnerFormDep, link_id: UUID) -> Response:
    """A new link on the same terms; the page of the new link follows."""
    command = partial(get_paylink(request).links.duplicate, link_id)
    return _change(request, staff, link_id, command, "duplicated_ok", refused=422)
