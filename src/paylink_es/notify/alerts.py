"""What an alert to the merchant says: a short plain-text e-mail in the merchant's language."""

from __future__ import annotations

from dataclasses import dataclass

from paylink_es.locale import MESSAGE_TEXT, Language, language_of
from paylink_es.notify.messages import one_line
from paylink_es.notify.port import Message

# Where each alert's dashboard page is, after the base URL.
PAGES = {
    "payment_received": "/dashboard/payments",
    "link_expired": "/dashboard/links/{subject}",
    "webhook_failing": "/dashboard/webhooks",
    "payout_paid": "/dashboard/settlements",
    "payout_failed": "/dashboard/settlements",
}
SETTINGS_PAGE = "/dashboard/settings/messages"


@dataclass(frozen=True)
class AlertContent:
    """One alert's facts, as words: its kind, the merchant, the mode, and the values its
    sentence names (``amount``, ``description``, ``url``, ``failures``…)."""

    kind: str
    merchant: str
    mode: str
    subject: str
    language: Language
    values: dict[str, str]

    @classmethod
    def of(
        cls,
        kind: str,
        merchant: str,
        mode: str,
        subject: str,
        language: str,
        values: dict[str, str],
    ) -> AlertContent:
        """The content in ``language`` (Bahasa Indonesia unless it is ``en``)."""
        lang = language_of(language)
        return cls(kind, merchant, mode, subject, lang, dict(values))

    def message(self, to: str, base_url: str) -> Message:
        """The e-mail to ``to``; the dashboard's pages hang off ``base_url``."""
        words = MESSAGE_TEXT[self.language]
        base = base_url.rstrip("/")
        values = {**self.values, "mode": words[f"alert_{self.mode}"], "merchant": self.merchant}
        subject = one_line(words[f"alert_{self.kind}_subject"].format(**values), 200)
        page = base + PAGES[self.kind].format(subject=self.subject)
        parts = [
            words["alert_greeting"].format(merchant=one_line(self.merchant, 100)),
            words[f"alert_{self.kind}"].format(**values),
            words["alert_look"].format(url=page),
            words["alert_why"].format(url=base + SETTINGS_PAGE),
        ]
        return Message("email", to, "\n\n".join(parts) + "\n", subject=subject)
