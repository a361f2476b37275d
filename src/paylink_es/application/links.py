"""Payment links: create, edit, duplicate, send, open (by a customer), deactivate and
reactivate, expire and cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import LinkDetails
from paylink_es.application.merchants import MerchantService
from paylink_es.application.requests import Answer, KeyUse
from paylink_es.domain.acceptance import Offer, accepted_methods
from paylink_es.domain.errors import (
    InvalidFieldError,
    NotFoundError,
    ReferenceReusedError,
    SlugTakenError,
)
from paylink_es.domain.idempotency import derived_id, ids_from
from paylink_es.domain.link import (
    EDITABLE,
    PAID_FOR,
    PARTIAL_TERMS,
    LinkCodeIndex,
    PaymentLink,
    link_id_for_reference,
    term_fields,
    terms_of,
)
from paylink_es.domain.merchant import random_base62
from paylink_es.domain.terms import LinkTerms, link_terms
from paylink_es.domain.validation import check_by, check_text, require_text

LINK_CODE_LENGTH = 12
AMOUNTS = ("amount", "amount_min", "amount_max")
# Who made a change: an API key's id, or a dashboard user's e-mail address.


def offer_of(terms: LinkTerms) -> Offer:
    """What a link on ``terms`` asks of a payer (which methods can take it)."""
    return Offer(
        terms.currency,
        terms.amount if terms.amount is not None else terms.amount_min or 1,
        terms.amount if terms.amount is not None else terms.amount_max,
        open=terms.amount is None,
    )


def _who(by: object) -> str:
    return check_by(by)


class LinkService:
    """Every command on a payment link, and the link as it stands now."""

    def __init__(
        self,
        app: PaylinkApp,
        merchants: MerchantService,
        minimums: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.merchants = merchants
        # The least each method takes (method or family -> rupiah) over the defaults.
        self.minimums = minimums

    def create(self, merchant_id: UUID, **fields: Any) -> UUID:
        """Create a payment link; the same merchant reference returns the first link."""
        return self.create_or_find(merchant_id, **fields)[0].id

    def create_or_find(
        self, merchant_id: UUID, *, by: str | None = None, **fields: Any
    ) -> tuple[LinkDetails, bool]:
        """Create a link; returns it and whether it is new (False: the reference existed).

        ``by`` says who asked (an API key's id, a dashboard user), on the ``Created`` event.
        """
        return self.app.run(self._create_command(merchant_id, fields, by=by))

    async def create_or_find_async(
        self, merchant_id: UUID, *, by: str | None = None, **fields: Any
    ) -> tuple[LinkDetails, bool]:
        """:meth:`create_or_find` for an event loop (the HTTP hot path)."""
        return await self.app.run_async(self._create_command(merchant_id, fields, by=by))

    def kept_create(
        self,
        merchant_id: UUID,
        use: KeyUse,
        render: Callable[[LinkDetails, bool], Answer],
        *,
        by: str | None = None,
        **fields: Any,
    ) -> Callable[[], Answer]:
        """:meth:`create_or_find` under an Idempotency-Key, for
        :meth:`~paylink_es.application.requests.RequestService.once_command`: the link's
        events and the key's record with the answer (``render(link, created)``) are saved
        in one write. The link's id is derived from the key, so a request that lost the
        race for the key conflicts on the link too and stores nothing."""

        def run() -> Answer:
            answer: list[Answer] = []

            def keep(details: LinkDetails, created: bool) -> list[Any]:
                answer[:] = [render(details, created)]
                return [use.kept(*answer[0])]

            with ids_from(use.record_id):
                create = self._create_command(merchant_id, fields, by=by, riders=keep)
            create()
            return answer[0]

        return run

    def _create_command(
        self,
        merchant_id: UUID,
        fields: dict[str, Any],
        *,
        by: str | None = None,
        duplicate_of: UUID | None = None,
        riders: Callable[[LinkDetails, bool], Sequence[Any]] | None = None,
    ) -> Callable[[], tuple[LinkDetails, bool]]:
        """The create command; ``riders`` gives what is saved in the same write as the
        link (the key's record of an idempotent request), given the link and whether it
        is new."""
        app = self.app
        terms = link_terms(app.now(), **fields)
        who = _who(by) if by is not None else None
        # Methods a merchant names must take the link; a duplicate keeps those that still can.
        named = fields.get("methods") is not None and duplicate_of is None
        # Drawn here, in the caller's thread: an idempotent request derives it from its key.
        derived = derived_id()
        if terms.reference_id is not None:
            link_id = link_id_for_reference(merchant_id, terms.mode, terms.reference_id)
        else:
            link_id = derived or app.draw_id()

        def command() -> tuple[LinkDetails, bool]:
            offered = self._offered(merchant_id, terms, named=named)
            code = random_base62(LINK_CODE_LENGTH)
            link = PaymentLink.create(
                link_id, merchant_id, code, offered, by=who, duplicate_of=duplicate_of
            )
            indexes = [LinkCodeIndex(link_id=link_id, code=code)]
            if offered.slug is not None:
                indexes.append(LinkCodeIndex(link_id=link_id, code=offered.slug))
            details = LinkDetails.of(link, app.now())
            try:
                app.save(link, *indexes, *(riders(details, True) if riders else ()))
            except RecordConflictError:
                # The reference's id is taken: that is the first link, unless it was the
                # code that collided (then the retry draws a new code). An id derived from
                # an Idempotency-Key is taken when this very request ran before and died
                # before answering: the link is the one it created. With riders, the
                # key's record was written with that link: running again finds it.
                if terms.reference_id is not None and link_id in app.repository:
                    found = self._same_reference(link_id, offered)
                    if riders is not None:
                        app.save(*riders(found, False))
                    return found, False
                if derived is not None and link_id in app.repository:
                    if riders is not None:
                        raise
                    return self.get(link_id), True
                if offered.slug is not None and (
                    LinkCodeIndex.create_id(offered.slug) in app.repository
                ):
                    raise SlugTakenError(
                        f"the slug {offered.slug!r} is taken; choose another", field="slug"
                    ) from None
                raise
            return details, True

        return command

    def _same_reference(
        self, link_id: UUID, terms: LinkTerms, link: PaymentLink | None = None
    ) -> LinkDetails:
        """The link a reference already names (loaded here unless given), if created with
        these very terms."""
        link = link or self.app.get(PaymentLink, link_id, "link")
        if terms_of(link) != terms:
            raise ReferenceReusedError(
                f"reference_id {terms.reference_id!r} already names link {link_id}, "
                "created with other terms; use another reference_id, or send the same body",
                link_id=str(link_id),
            )
        return LinkDetails.of(link, self.app.now())

    def get(self, link_id: UUID) -> LinkDetails:
        """The link as it stands now."""
        return LinkDetails.of(self.app.get(PaymentLink, link_id, "link"), self.app.now())

    def find_by_reference(self, merchant_id: UUID, mode: str, reference_id: str) -> UUID | None:
        """The link a merchant created with this reference, if any."""
        link_id = link_id_for_reference(merchant_id, mode, reference_id)
        return link_id if link_id in self.app.repository else None

    def find_same(self, merchant_id: UUID, **fields: Any) -> LinkDetails | None:
        """What :meth:`create_or_find` answers for a reference that names a link already,
        found without writing: the link, when it was created with these very terms (else
        :class:`ReferenceReusedError`, as there); None when the fields carry no reference or
        it names no link yet. Fields the domain refuses raise as they would there.

        A create whose reference exists conflicts on the link's id (in its group-commit
        batch, making the whole batch run again one by one, then alone) before it finds the
        link; bulk links ask this first for the references :meth:`taken_references` names,
        so a file sent again writes nothing at all.
        """
        if fields.get("reference_id") is None:
            return None
        terms = link_terms(self.app.now(), **fields)
        assert terms.reference_id is not None  # noqa: S101 - checked just above
        link_id = link_id_for_reference(merchant_id, terms.mode, terms.reference_id)
        try:
            link = self.app.get(PaymentLink, link_id, "link")
        except NotFoundError:
            return None
        # The terms the create command would offer (its methods: those that take the link).
        offered = self._offered(merchant_id, terms, named=fields.get("methods") is not None)
        return self._same_reference(link_id, offered, link)

    def _offered(self, merchant_id: UUID, terms: LinkTerms, *, named: bool) -> LinkTerms:
        """``terms`` (checked by ``link_terms``) as the link offers them: the methods that
        can take them (each method a merchant ``named`` must take the link, else
        ``method-unavailable``; the others that cannot are left out), and the merchant's
        expiry policy for a link paid in parts that names none."""
        plan = self.merchants.fee_plan(merchant_id)
        methods = accepted_methods(
            terms.methods, offer_of(terms), plan, named=named, minimums=self.minimums
        )
        return self._partial_policy(merchant_id, replace(terms, methods=methods))

    def _partial_policy(self, merchant_id: UUID, terms: LinkTerms) -> LinkTerms:
        """``terms`` with the merchant's ``partial_expiry`` when a link paid in parts names
        none: a link keeps the policy it was made (or turned partial) with."""
        if not terms.allow_partial or terms.partial_expiry is not None:
            return terms
        return replace(terms, partial_expiry=self.merchants.partial_expiry(merchant_id))

    def taken_references(self, merchant_id: UUID, mode: str, references: Sequence[str]) -> set[str]:
        """Which of ``references`` already name one of the merchant's links in ``mode``:
        read a chunk at a time (one query each), not one by one."""
        ids = {link_id_for_reference(merchant_id, mode, ref): ref for ref in references}
        chunk = 1_000
        keys = list(ids)
        taken: set[str] = set()
        for start in range(0, len(keys), chunk):
            found = self.app.load_many(keys[start : start + chunk])
            taken.update(ids[link_id] for link_id in found)
        return taken

    def owned(self, merchant_id: UUID, mode: str, link_id: UUID) -> LinkDetails | None:
        """The link if it exists and belongs to this merchant and mode, else None."""
        try:
            link = self.app.get(PaymentLink, link_id, "link")
        except NotFoundError:
            return None
        if link.merchant_id != merchant_id or link.mode != mode:
            return None
        return LinkDetails.of(link, self.app.now())

    def _change(self, link_id: UUID, change: Callable[[PaymentLink], None]) -> None:
        """Run ``change`` on the link (its current version; retried on a conflict), save."""
        self.app.update(PaymentLink, link_id, "link", change)

    def id_for_code(self, code: str) -> UUID:
        """The link a short code or a slug points to (slugs in any case: ``/l/Promo``)."""
        try:
            index = self.app.get(LinkCodeIndex, LinkCodeIndex.create_id(code), "link")
        except NotFoundError:
            if code == code.lower():
                raise
            index = self.app.get(LinkCodeIndex, LinkCodeIndex.create_id(code.lower()), "link")
        return index.link_id

    def send(
        self,
        link_id: UUID,
        channel: str,
        recipient: str,
        *,
        language: str | None = None,
        reminders: Sequence[int] | None = None,
    ) -> None:
        """Record that the link went out by ``channel`` to ``recipient`` in ``language``
        (shown masked; kept for reminders and receipts). A link without reminders of its
        own takes ``reminders`` (the merchant's default)."""
        channel_name = require_text(channel, "channel", max_length=32)
        to = require_text(recipient, "recipient", max_length=254)
        self._change(
            link_id,
            lambda link: link.send(
                channel_name, to, self.app.now(), language=language, reminders=reminders
            ),
        )

    def record_send_failure(self, link_id: UUID, channel: str, recipient: str, reason: str) -> None:
        """Record that sending the link by ``channel`` failed (recipient stored masked)."""
        channel_name = require_text(channel, "channel", max_length=32)
        to = require_text(recipient, "recipient", max_length=254)
        why = require_text(reason, "reason", max_length=500)
        self._change(link_id, lambda link: link.record_send_failure(channel_name, to, why))

    def open(self, link_id: UUID, visitor: str) -> None:
        """Record a customer opening the link's page."""
        who = require_text(visitor, "visitor", max_length=128)
        self._change(link_id, lambda link: link.open(who))

    def expire(self, link_id: UUID) -> bool:
        """Record the link's expiry if it has passed; returns whether it expired now."""
        expired: list[bool] = []

        def command(link: PaymentLink) -> None:
            expired.append(link.expire(self.app.now()))

        self._change(link_id, command)
        return expired[-1]

    def cancel(self, link_id: UUID, reason: str | None = None, by: str | None = None) -> None:
        """Close the link to new payments."""
        why = check_text(reason, "reason", max_length=500, required=False)
        who = _who(by) if by is not None else None
        self._change(link_id, lambda link: link.cancel(why, who))

    def edit(self, link_id: UUID, by: str, **changes: Any) -> tuple[LinkDetails, list[str]]:
        """Change a link that is not closed: any of :data:`EDITABLE`; returns the link and
        the fields that changed (none: nothing is recorded). ``allow_partial`` false clears
        ``partial_min`` and ``partial_expiry``; turned on without a ``partial_expiry``, the
        link takes the merchant's policy.

        The changed fields are merged into the link's terms and checked exactly as a new
        link's are (``link_terms``). Giving any of ``amount``, ``amount_min``,
        ``amount_max`` replaces all three (those not given are cleared: a fixed amount
        becomes an open one). Methods given are checked as named on create (each must take
        the link); when the amount or currency changes without them, the link keeps those
        of its methods that can take it. A link with payments cannot change its amount,
        range, currency or whether it is paid in parts.
        """
        who = _who(by)
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise InvalidFieldError(
                unknown[0], f"cannot be edited; a link's {', '.join(EDITABLE)} can"
            )
        if not changes:
            raise InvalidFieldError("body", f"name a field to change: {', '.join(EDITABLE)}")
        app = self.app

        def command() -> tuple[LinkDetails, list[str]]:
            link = app.get(PaymentLink, link_id, "link")
            now = app.now()
            link.check_editable(now)
            terms = self._edited_terms(link, changes, now)
            changed = link.edit(terms, who, now)
            if changed:
                app.save(link)
            return LinkDetails.of(link, now), changed

        return app.run(command)

    def _edited_terms(self, link: PaymentLink, changes: dict[str, Any], now: datetime) -> LinkTerms:
        """The link's terms with ``changes`` merged in, validated as on create."""
        current = terms_of(link)
        raw = term_fields(current)
        if any(name in changes for name in AMOUNTS):
            raw.update(dict.fromkeys(AMOUNTS))
        if changes.get("allow_partial") is False:  # paid whole again: no partial terms
            raw.update(dict.fromkeys(PARTIAL_TERMS[1:]))
        raw.update(changes)
        terms = self._partial_policy(link.merchant_id, link_terms(now, **raw))
        link.changes(terms)  # a link with payments refuses a new price before methods are asked
        price_changed = any(getattr(terms, name) != getattr(current, name) for name in PAID_FOR)
        if "methods" not in changes and not price_changed:
            return terms
        return self._offered(link.merchant_id, terms, named="methods" in changes)

    def duplicate(self, link_id: UUID, by: str) -> LinkDetails:
        """A new link on the same terms as ``link_id`` (any status), without its
        reference or slug; an expiry keeps the original's duration, from now."""
        return self.app.run(self._duplicate_command(link_id, by))

    def _duplicate_command(self, link_id: UUID, by: str) -> Callable[[], LinkDetails]:
        original = self.app.get(PaymentLink, link_id, "link")
        terms = terms_of(original)
        fields = {
            name: value
            for name, value in term_fields(terms).items()
            if name not in ("reference_id", "slug", "expires_at")
        }
        if terms.expires_at is not None:
            fields["expires_at"] = self.app.now() + (terms.expires_at - original.created_on)
        create = self._create_command(original.merchant_id, fields, by=by, duplicate_of=original.id)
        return lambda: create()[0]

    def deactivate(self, link_id: UUID, message: str | None, by: str) -> None:
        """Stop the link taking payments; its page shows ``message`` (optional) instead."""
        text = check_text(message, "message", max_length=500, multiline=True, required=False)
        who = _who(by)
        self._change(link_id, lambda link: link.deactivate(text, who, self.app.now()))

    def reactivate(self, link_id: UUID, by: str) -> None:
        """Let an inactive link take payments again."""
        who = _who(by)
        self._change(link_id, lambda link: link.reactivate(who, self.app.now()))
