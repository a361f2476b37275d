"""The Merchant aggregate and the index that finds a merchant by API key."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.branding import NO_BRAND, LogoRef, check_brand_color, check_display_name
from paylink_es.domain.errors import ApiKeyInvalidError, InvalidFieldError
from paylink_es.domain.fees import DEFAULT_PLAN, FeePlan
from paylink_es.domain.link import DEFAULT_DECISIONS
from paylink_es.domain.terms import Mode

_BASE62 = string.digits + string.ascii_letters


def random_base62(length: int) -> str:
    """An unguessable string of ``length`` base62 characters.

    One read of the system's randomness per string (``secrets.choice`` per character
    made one each; in the group-commit writer every such call gives up the GIL and
    waits to get it back): bytes below 248 = 4 * 62 map evenly onto the alphabet.
    """
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(_BASE62[byte % 62] for byte in secrets.token_bytes(length + 8) if byte < 248)
    return "".join(chars[:length])


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret; only this is ever stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_mode(secret: str) -> Mode:
    """The mode a secret key belongs to, from its prefix; raises on a malformed key."""
    if secret.startswith("sk_test_"):
        return "test"
    if secret.startswith("sk_live_"):
        return "live"
    raise ApiKeyInvalidError("an API key starts with sk_test_ or sk_live_")


@dataclass(frozen=True)
class ApiKey:
    """What is kept of an issued key: never the secret itself."""

    key_id: UUID
    mode: Mode
    prefix: str
    secret_hash: str
    revoked: bool = False


class Merchant(PaylinkAggregate):
    """A business that creates payment links and receives their money."""

    @event("Registered")
    def __init__(self, id: UUID, name: str, email: str | None) -> None:  # id: given by the app
        self.name = name
        self.email = email
        self.keys: dict[UUID, ApiKey] = {}
        self.bank_account: dict[str, str] | None = None
        self.fee_plan_data: dict[str, Any] | None = None
        self.anomaly_policy: dict[str, str] = {}
        # Per mode: the secret that signs the hosted page's redirects to the link's URLs.
        self.redirect_secrets: dict[str, str] = {}
        # What customers see of the merchant: display name, colour, logo (defaults: None).
        self.brand = NO_BRAND

    @property
    def shown_name(self) -> str:
        """The name customers see: the display name, else the registered name."""
        return self.brand.display_name or self.name

    def set_branding(self, display_name: object, brand_color: object, by: str) -> bool:
        """Set the display name and brand colour (``None``: the default); checked here.
        The same values again record nothing (returns whether anything changed)."""
        name = check_display_name(display_name)
        color = check_brand_color(brand_color)
        if (name, color) == (self.brand.display_name, self.brand.color):
            return False
        self._branding_set(display_name=name, brand_color=color, by=by)
        return True

    @event("BrandingSet")
    def _branding_set(self, display_name: str | None, brand_color: str | None, by: str) -> None:
        self.brand = replace(self.brand, display_name=display_name, color=brand_color)

    def set_logo(self, logo: LogoRef, by: str) -> bool:
        """Show ``logo`` (kept in its own aggregate, by hash); the same logo again records
        nothing (returns whether anything changed)."""
        if logo == self.brand.logo:
            return False
        self._logo_set(sha256=logo.sha256, width=logo.width, height=logo.height, by=by)
        return True

    @event("LogoSet")
    def _logo_set(self, sha256: str, width: int, height: int, by: str) -> None:
        self.brand = replace(self.brand, logo=LogoRef(sha256, width, height))

    def remove_logo(self, by: str) -> bool:
        """Show no logo; without one this records nothing (returns whether it changed)."""
        if self.brand.logo is None:
            return False
        self._logo_removed(by=by)
        return True

    @event("LogoRemoved")
    def _logo_removed(self, by: str) -> None:
        self.brand = replace(self.brand, logo=None)

    def issue_key(self, key_id: UUID, mode: Mode) -> str:
        """Issue a secret key and return it; only its hash is recorded."""
        secret = f"sk_{mode}_{random_base62(32)}"
        self._key_issued(
            key_id=key_id, mode=mode, prefix=secret[:12], secret_hash=hash_secret(secret)
        )
        return secret

    @event("ApiKeyIssued")
    def _key_issued(self, key_id: UUID, mode: Mode, prefix: str, secret_hash: str) -> None:
        self.keys[key_id] = ApiKey(key_id, mode, prefix, secret_hash)

    def revoke_key(self, key_id: UUID) -> None:
        """Revoke a key; revoking an already revoked key changes nothing."""
        key = self.keys.get(key_id)
        if key is None:
            raise InvalidFieldError("key_id", f"{key_id} is not a key of this merchant")
        if not key.revoked:
            self._key_revoked(key_id=key_id)

    @event("ApiKeyRevoked")
    def _key_revoked(self, key_id: UUID) -> None:
        key = self.keys[key_id]
        self.keys[key_id] = ApiKey(key.key_id, key.mode, key.prefix, key.secret_hash, True)

    def new_redirect_secret(self, mode: str) -> str:
        """Make (or replace) the secret that signs redirects in ``mode``; returns it.

        Kept in the event, like a webhook endpoint's secret: the page signs with it.
        """
        if mode not in ("test", "live"):
            raise InvalidFieldError("mode", "must be test or live")
        secret = f"rdsec_{mode}_{random_base62(32)}"
        self._redirect_secret_set(mode=mode, secret=secret)
        return secret

    @event("RedirectSecretSet")
    def _redirect_secret_set(self, mode: str, secret: str) -> None:
        self.redirect_secrets[mode] = secret

    def set_bank_account(self, bank: str, account_number: str, account_name: str) -> None:
        """Record where payouts go (the same account again records nothing)."""
        wanted = {"bank": bank, "account_number": account_number, "account_name": account_name}
        if wanted != self.bank_account:
            self._bank_account_set(bank, account_number, account_name)

    @event("SettlementAccountSet")
    def _bank_account_set(self, bank: str, account_number: str, account_name: str) -> None:
        self.bank_account = {
            "bank": bank,
            "account_number": account_number,
            "account_name": account_name,
        }

    def fee_plan(self) -> FeePlan:
        """The plan that prices this merchant's payments (the default until one is set)."""
        if self.fee_plan_data is None:
            return DEFAULT_PLAN
        return FeePlan.from_dict(self.fee_plan_data)

    def set_fee_plan(self, plan: dict[str, Any]) -> None:
        """Record a new fee plan (validated: a plan that cannot be rebuilt is refused)."""
        checked = FeePlan.from_dict(plan).to_dict()
        # A plan stored before a key had a default reads as it would be written now.
        current = None if self.fee_plan_data is None else self.fee_plan().to_dict()
        if checked != current:
            self._fee_plan_set(plan=checked)

    @event("FeePlanSet")
    def _fee_plan_set(self, plan: dict[str, Any]) -> None:
        self.fee_plan_data = plan

    def set_anomaly_policy(self, policy: dict[str, str]) -> None:
        """Record what happens per anomaly: ``accept``, ``hold`` (review) or ``refund``."""
        checked = check_anomaly_policy(policy)
        if checked != self.anomaly_policy:
            self._anomaly_policy_set(policy=checked)

    @event("AnomalyPolicySet")
    def _anomaly_policy_set(self, policy: dict[str, str]) -> None:
        self.anomaly_policy = dict(policy)

    def decision_for(self, anomaly: str) -> str:
        """This merchant's decision for an anomaly (the platform default if not set)."""
        return self.anomaly_policy.get(anomaly) or DEFAULT_DECISIONS[anomaly]


ANOMALY_DECISIONS = ("accept", "hold", "refund")


def check_anomaly_policy(policy: object) -> dict[str, str]:
    """A policy as {anomaly: decision}; errors name the anomaly or decision at fault."""
    if not isinstance(policy, dict):
        raise InvalidFieldError("policy", "must be an object of anomaly -> decision")
    checked: dict[str, str] = {}
    for anomaly, decision in sorted(policy.items()):
        if anomaly not in DEFAULT_DECISIONS:
            raise InvalidFieldError(
                f"policy.{anomaly}", f"not an anomaly; one of {sorted(DEFAULT_DECISIONS)}"
            )
        if decision not in ANOMALY_DECISIONS:
            raise InvalidFieldError(
                f"policy.{anomaly}", f"decision must be one of {ANOMALY_DECISIONS}"
            )
        checked[anomaly] = decision
    return checked


class ApiKeyIndex(PaylinkAggregate):
    """Finds the merchant and key for a secret's hash; saved with the key it indexes."""

    @staticmethod
    def create_id(secret_hash: str) -> UUID:
        """The index id for a secret hash (the library calls it when one is created)."""
        return stable_id(f"/api-keys/{secret_hash}")

    @event("Indexed")
    def __init__(self, merchant_id: UUID, key_id: UUID, secret_hash: str = "") -> None:
        # secret_hash: what the id is made from ("" in indexes stored before it was kept)
        self.merchant_id = merchant_id
        self.key_id = key_id
