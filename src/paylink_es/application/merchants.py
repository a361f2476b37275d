"""Merchants: registration, API keys and who a key belongs to, fee plans, bank accounts,
and the brand customers see (display name, colour, logo)."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from paylink_es.application.app import PaylinkApp
from paylink_es.application.details import IssuedKey, KeyOwner, Snapshot
from paylink_es.domain.branding import Brand
from paylink_es.domain.errors import ApiKeyInvalidError, NotFoundError
from paylink_es.domain.fees import FeePlan
from paylink_es.domain.logo import LogoImage, prepare_logo
from paylink_es.domain.merchant import ApiKey, ApiKeyIndex, Merchant, hash_secret, key_mode
from paylink_es.domain.terms import Mode
from paylink_es.domain.validation import check_by, check_email, require_text

AUTH_CACHE_S = 1.0
LOGOS_KEPT = 64  # logos' PNGs held in memory (content never changes under a hash)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class BrandingDetails(Snapshot):
    """What customers see of a merchant: the name shown (display name, else the
    registered ``name``) and the brand as set."""

    name: str
    shown_name: str
    brand: Brand


@dataclass(frozen=True)
class MerchantDetails(Snapshot):
    """A merchant as it stands now (its keys as kept: never a secret)."""

    id: UUID
    name: str
    email: str | None
    keys: dict[UUID, ApiKey]
    bank_account: dict[str, str] | None
    fee_plan: FeePlan
    anomaly_policy: dict[str, str]
    brand: Brand

    derived: ClassVar[Mapping[str, Callable[[Merchant], object]]] = {
        "keys": lambda merchant: dict(merchant.keys),
        "bank_account": lambda merchant: (
            dict(merchant.bank_account) if merchant.bank_account else None
        ),
        "fee_plan": lambda merchant: merchant.fee_plan(),
        "anomaly_policy": lambda merchant: dict(merchant.anomaly_policy),
    }


class MerchantService:
    """Register merchants, issue and revoke their keys, and say who a key belongs to."""

    def __init__(self, app: PaylinkApp) -> None:
        self.app = app
        self._known: set[UUID] = set()
        self._auth_cache: dict[str, tuple[KeyOwner, float]] = {}
        self._plans: dict[UUID, tuple[FeePlan, float]] = {}
        self._logos: OrderedDict[str, bytes] = OrderedDict()

    def register(
        self, name: str, email: str | None = None, *, merchant_id: UUID | None = None
    ) -> UUID:
        """Register a merchant; returns its id (``merchant_id`` fixes it, e.g. for the demo)."""
        merchant_name = require_text(name, "name", max_length=200)
        merchant_email = check_email(email, "email")

        def command() -> UUID:
            merchant = Merchant(
                id=merchant_id or self.app.new_id(),
                name=merchant_name,
                email=merchant_email,
            )
            self.app.save(merchant)
            return merchant.id

        return self.app.run(command)

    def require(self, merchant_id: UUID) -> None:
        """Raise unless the merchant exists (merchants are never removed: remembered)."""
        if merchant_id in self._known:
            return
        self.app.get(Merchant, merchant_id, "merchant")
        self._known.add(merchant_id)

    def fee_plan(self, merchant_id: UUID) -> FeePlan:
        """The merchant's fee plan (raises for an unknown merchant).

        Remembered for a second: a plan set in this process applies at once, one set in
        another process within a second. Money is always priced from the plan stored
        with the merchant at verification; this copy only decides which methods a new
        link or payment may use.
        """
        cached = self._plans.get(merchant_id)
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        plan = self.app.get(Merchant, merchant_id, "merchant").fee_plan()
        self._plans[merchant_id] = (plan, time.monotonic())
        self._known.add(merchant_id)
        return plan

    def issue_key(self, merchant_id: UUID, mode: Mode = "test") -> IssuedKey:
        """Issue a secret key for the merchant; the secret is returned only here."""

        def command() -> IssuedKey:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            key_id = self.app.new_id()
            secret = merchant.issue_key(key_id, mode)
            index = ApiKeyIndex(
                merchant_id=merchant_id, key_id=key_id, secret_hash=hash_secret(secret)
            )
            self.app.save(merchant, index)
            return IssuedKey(key_id=key_id, secret=secret, mode=mode)

        return self.app.run(command)

    def revoke_key(self, merchant_id: UUID, key_id: UUID) -> None:
        """Revoke one of the merchant's keys; it stops authenticating at once."""
        self.app.update(Merchant, merchant_id, "merchant", lambda m: m.revoke_key(key_id))
        self._auth_cache.clear()

    def cached_owner(self, secret: str) -> KeyOwner | None:
        """The owner of a key if it was authenticated within the last second (no I/O)."""
        cached = self._auth_cache.get(hash_secret(secret))
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        return None

    def authenticate(self, secret: str) -> KeyOwner:
        """The merchant and mode a secret key belongs to; raises if unknown or revoked.

        Answers are remembered for a second: a revocation made in this process applies
        at once, one made in another process within a second.
        """
        mode = key_mode(secret)
        secret_hash = hash_secret(secret)
        cached = self._auth_cache.get(secret_hash)
        if cached is not None and time.monotonic() - cached[1] < AUTH_CACHE_S:
            return cached[0]
        index_id = ApiKeyIndex.create_id(secret_hash)
        try:
            index: object = self.app.repository.get(index_id)
        except AggregateNotFoundError:
            raise ApiKeyInvalidError("the API key is not known") from None
        if not isinstance(index, ApiKeyIndex):
            raise ApiKeyInvalidError("the API key is not known")
        merchant = self.app.get(Merchant, index.merchant_id, "merchant")
        key = merchant.keys.get(index.key_id)
        if key is None or key.revoked:
            raise ApiKeyInvalidError("the API key has been revoked")
        owner = KeyOwner(merchant_id=merchant.id, key_id=key.key_id, mode=mode)
        self._auth_cache[secret_hash] = (owner, time.monotonic())
        return owner

    def redirect_secret(self, merchant_id: UUID, mode: str) -> str:
        """The secret that signs the hosted page's redirects of this merchant in ``mode``;
        made the first time it is asked for (two first askers get the same one)."""
        known = self.app.get(Merchant, merchant_id, "merchant").redirect_secrets.get(mode)
        if known is not None:
            return known

        def command() -> str:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            secret = merchant.redirect_secrets.get(mode)
            if secret is None:
                secret = merchant.new_redirect_secret(mode)
                self.app.save(merchant)
            return secret

        return self.app.run(command)

    def rotate_redirect_secret(self, merchant_id: UUID, mode: str) -> str:
        """Replace the redirect secret of ``mode``; redirects are signed with the new one
        from now on. Returns it."""

        def command() -> str:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            secret = merchant.new_redirect_secret(mode)
            self.app.save(merchant)
            return secret

        return self.app.run(command)

    def set_fee_plan(self, merchant_id: UUID, plan: FeePlan) -> None:
        """Price the merchant's future verifications with ``plan``."""
        self.app.update(Merchant, merchant_id, "merchant", lambda m: m.set_fee_plan(plan.to_dict()))
        self._plans.pop(merchant_id, None)

    def set_anomaly_policy(self, merchant_id: UUID, policy: dict[str, str]) -> None:
        """Decide per anomaly what happens to money that arrived oddly: accept, hold, refund."""
        self.app.update(Merchant, merchant_id, "merchant", lambda m: m.set_anomaly_policy(policy))

    def set_bank_account(
        self, merchant_id: UUID, bank: str, account_number: str, account_name: str
    ) -> None:
        """Record where the merchant's payouts go."""
        fields = (
            require_text(bank, "bank", max_length=32),
            require_text(account_number, "account_number", max_length=34),
            require_text(account_name, "account_name", max_length=100),
        )
        self.app.update(Merchant, merchant_id, "merchant", lambda m: m.set_bank_account(*fields))

    def get(self, merchant_id: UUID) -> MerchantDetails:
        """The merchant as it stands now."""
        return MerchantDetails.of(self.app.get(Merchant, merchant_id, "merchant"))

    def name(self, merchant_id: UUID) -> str:
        """The name customers see: the display name, else the registered name."""
        return self.app.get(Merchant, merchant_id, "merchant").shown_name

    # -- brand -------------------------------------------------------------------------

    def branding(self, merchant_id: UUID) -> BrandingDetails:
        """The merchant's brand as customers see it."""
        return BrandingDetails.of(self.app.get(Merchant, merchant_id, "merchant"))

    def set_branding(
        self, merchant_id: UUID, display_name: object, brand_color: object, by: str
    ) -> BrandingDetails:
        """Set the display name and brand colour (each ``None``: the default); checked by
        the merchant (1-60 characters; ``#RRGGBB`` white text reads on). ``by``: who."""
        who = check_by(by)

        def command() -> BrandingDetails:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            if merchant.set_branding(display_name, brand_color, who):
                self.app.save(merchant)
            return BrandingDetails.of(merchant)

        return self.app.run(command)

    def set_logo(self, merchant_id: UUID, upload: bytes, by: str) -> BrandingDetails:
        """Show a new logo: ``upload`` (PNG or JPEG) is checked and made a PNG of its own
        (``prepare_logo``) before the write; the PNG is saved once per content, with the
        merchant's ``LogoSet`` naming its hash."""
        who = check_by(by)
        self.require(merchant_id)
        logo = prepare_logo(upload)
        image_id = LogoImage.create_id(logo.sha256)

        def command() -> BrandingDetails:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            if merchant.set_logo(logo.ref, who):
                kept = self.app.recorder.select_events(image_id, limit=1)
                self.app.save(merchant, *(() if kept else (LogoImage.of(logo),)))
            return BrandingDetails.of(merchant)

        details = self.app.run(command)
        self._keep_logo(logo.sha256, logo.png)
        return details

    def remove_logo(self, merchant_id: UUID, by: str) -> BrandingDetails:
        """Show no logo (the name alone); without one this records nothing."""
        who = check_by(by)

        def command() -> BrandingDetails:
            merchant = self.app.get(Merchant, merchant_id, "merchant")
            if merchant.remove_logo(who):
                self.app.save(merchant)
            return BrandingDetails.of(merchant)

        return self.app.run(command)

    def logo_png(self, sha256: str) -> bytes | None:
        """The PNG of the logo with this SHA-256 (lower-case hex); ``None`` if none is kept."""
        if not _SHA256.fullmatch(sha256):
            return None
        known = self._logos.get(sha256)
        if known is not None:
            return known
        try:
            image = self.app.get(LogoImage, LogoImage.create_id(sha256), "logo")
        except NotFoundError:
            return None
        png = image.png()
        self._keep_logo(sha256, png)
        return png

    def _keep_logo(self, sha256: str, png: bytes) -> None:
        self._logos[sha256] = png
        while len(self._logos) > LOGOS_KEPT:
            self._logos.popitem(last=False)
