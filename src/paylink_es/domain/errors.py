"""Domain errors: each names the field or the transition that is wrong.

Every error carries a stable ``type`` slug (the HTTP layer turns it into an
RFC 9457 problem type) and, for bad input, the ``field`` it is about.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""

    type = "domain-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidFieldError(DomainError):
    """A field of a command has a value the domain does not accept.

    ``kind`` (a word such as ``too_long``) and ``params`` (the numbers in the message),
    when given, let a page say the same in its own language.
    """

    type = "invalid-field"

    def __init__(
        self, field: str, message: str, *, kind: str | None = None, **params: object
    ) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.kind = kind
        self.params = params


class AmountInvalidError(InvalidFieldError):
    """An amount is not a positive whole number of minor units within limits."""

    type = "amount-invalid"


class PartialTermsInvalidError(InvalidFieldError):
    """Terms a link paid in parts cannot have; its ``kind`` (``partial_…``) says which rule."""

    type = "partial-terms-invalid"


class AnswerInvalidError(InvalidFieldError):
    """What a payer entered on a link's page (a customer detail, a custom field) is missing
    or not what the field takes; its ``kind`` says which (``required``, ``too_long``,
    ``control``, ``not_text``, ``email``, ``phone``, ``number``, ``option``)."""

    type = "answer-invalid"


class CurrencyUnsupportedError(InvalidFieldError):
    """A currency code is not one the platform settles."""

    type = "currency-unsupported"


class CurrencyMismatchError(DomainError):
    """Two amounts in different currencies were combined."""

    type = "currency-mismatch"


class AmountRangeInvalidError(InvalidFieldError):
    """An open amount's minimum is above its maximum, or a fixed amount has a range."""

    type = "amount-range-invalid"


class ExpiryInvalidError(InvalidFieldError):
    """An expiry is in the past, too far ahead, or has no time zone."""

    type = "expiry-invalid"


class UsageLimitInvalidError(InvalidFieldError):
    """A usage limit is below one or absurdly large."""

    type = "usage-limit-invalid"


class TextInvalidError(InvalidFieldError):
    """A text field is empty, too long, or holds control characters."""

    type = "text-invalid"


class PaymentMethodUnknownError(InvalidFieldError):
    """A payment method is not in the catalogue, or not allowed on the link."""

    type = "payment-method-unknown"


class TransitionInvalidError(DomainError):
    """A command makes no sense in the aggregate's current state."""

    type = "transition-invalid"


class LinkNotPayableError(TransitionInvalidError):
    """A payment was started on a link that is cancelled, expired or completed."""

    type = "link-not-payable"


class LinkClosedError(TransitionInvalidError):
    """A link that is already closed cannot be sent, cancelled or expired again."""

    type = "link-closed"


class LinkHasPaymentsError(TransitionInvalidError):
    """A link that has taken money cannot change what the money paid for (its amount)."""

    type = "link-has-payments"


class PaymentStateError(TransitionInvalidError):
    """A payment was asked to move to a state its history does not allow."""

    type = "payment-state-invalid"


class RefundExceedsPaymentError(TransitionInvalidError):
    """A refund would return more than was received."""

    type = "refund-exceeds-payment"


class ReferenceReusedError(TransitionInvalidError):
    """A merchant reference already names a link created with other terms."""

    type = "reference-id-reused"

    def __init__(self, message: str, *, link_id: str) -> None:
        super().__init__(message, field="reference_id")
        self.link_id = link_id


class SlugTakenError(TransitionInvalidError):
    """A slug already names another link (slugs are unique across the platform)."""

    type = "slug-taken"


class BrandingInvalidError(InvalidFieldError):
    """A display name, brand colour or logo the hosted page cannot show as it is."""

    type = "branding-invalid"


class MethodUnavailableError(InvalidFieldError):
    """A payment method cannot take this link: its currency, its minimum, or its fee."""

    type = "method-unavailable"


class NotFoundError(DomainError):
    """The thing asked for does not exist (or belongs to somebody else)."""

    type = "not-found"


class ApiKeyInvalidError(DomainError):
    """An API key is unknown, malformed or revoked."""

    type = "api-key-invalid"


class ConcurrencyConflictError(DomainError):
    """A command kept colliding with concurrent writers and gave up."""

    type = "concurrency-conflict"
