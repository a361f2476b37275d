"""What a link's messages say: e-mail (text and HTML), SMS, WhatsApp and the share payload.

The same frame says each kind of message about a link (:data:`MessageKind`): the payment
request, the reminder before its expiry and the receipt of a payment. A kind's own words
are the catalogue's keys with its prefix (``reminder_subject`` for ``subject``); the
others are the payment request's.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from paylink_es.application.details import LinkDetails
from paylink_es.domain.branding import NO_BRAND, Brand
from paylink_es.locale import MESSAGE_TEXT, Language, format_instant, format_link_amount
from paylink_es.notify.port import Channel, Message, MessageKind, Template

HTML = """<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{subject}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:Arial,sans-serif;color:#1f2933">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"
 style="max-width:520px;margin:0 auto;background:#ffffff;border-radius:8px;\
border-top:4px solid {color}">
<tr><td style="padding:24px">
{logo}<p>{greeting}</p>
<p>{intro}</p>
<table role="presentation" cellpadding="4" cellspacing="0">
<tr><td style="color:#52606d">{label_for}</td><td>{description}</td></tr>
<tr><td style="color:#52606d">{label_amount}</td><td><strong>{amount}</strong></td></tr>
{expiry_row}</table>
<p style="margin:24px 0"><a href="{url}" style="display:inline-block;padding:12px 24px;\
background:{color};color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold">\
{button}</a></p>
<p style="font-size:13px;color:#52606d">{pay} <a href="{url}">{url}</a></p>
<p style="font-size:13px;color:#52606d">{methods}</p>
<p style="font-size:12px;color:#7b8794">{ignore}</p>
</td></tr></table>
</body>
</html>
"""
HTML_EXPIRY_ROW = '<tr><td style="color:#52606d">{label}</td><td>{expires}</td></tr>\n'
HTML_LOGO = (
    '<p style="margin:0 0 16px"><img src="{url}" alt="{merchant}" width="{width}" '
    'height="{height}" style="display:block;border:0;width:{width}px;height:{height}px"></p>\n'
)
EMAIL_COLOR = "#0b7a75"  # the button and accent without a brand colour
LOGO_BOX = (200, 48)  # an e-mail's logo fits in this many pixels (width, height)


def one_line(text: str, limit: int) -> str:
    """Text on one line (for subjects and SMS), cut at ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class LinkContent:
    """What every message about one link says, in one language."""

    language: Language
    merchant: str
    description: str
    amount: str
    url: str
    qr_url: str
    expires: str | None
    brand: Brand = NO_BRAND
    logo_url: str | None = None
    kind: MessageKind = "payment_request"

    @classmethod
    def of(
        cls,
        link: LinkDetails,
        merchant: str,
        base_url: str,
        language: Language,
        brand: Brand = NO_BRAND,
        kind: MessageKind = "payment_request",
    ) -> LinkContent:
        """The ``kind`` of message about ``link`` from ``merchant`` (the name customers
        see) in its ``brand``; its short URL and logo hang off ``base_url``."""
        url = f"{base_url.rstrip('/')}/l/{link.path}"
        logo = brand.logo
        return cls(
            kind=kind,
            language=language,
            merchant=merchant,
            description=link.description,
            amount=format_link_amount(
                link.amount,
                link.amount_min,
                link.amount_max,
                link.currency,
                language,
                MESSAGE_TEXT[language],
            ),
            url=url,
            qr_url=f"{url}/qr.svg",
            expires=format_instant(link.expires_at, language) if link.expires_at else None,
            brand=brand,
            logo_url=None if logo is None else f"{base_url.rstrip('/')}{logo.path}",
        )

    @property
    def words(self) -> dict[str, str]:
        """The catalogue of this kind of message in its language."""
        texts = MESSAGE_TEXT[self.language]
        if self.kind == "payment_request":
            return texts
        prefix = f"{self.kind}_"
        own = {key[len(prefix) :]: text for key, text in texts.items() if key.startswith(prefix)}
        return {**texts, **own}

    def template(self) -> Template:
        """The WhatsApp template of this kind of message: merchant, amount, URL and the
        instant in WIB (the expiry, or the words for none; a receipt's: when it was paid)."""
        when = self.expires or self.words["no_expiry"]
        return Template(
            self.kind, self.language, (one_line(self.merchant, 100), self.amount, self.url, when)
        )

    def text(self, key: str, *, description_limit: int = 200) -> str:
        """The template ``key`` filled in (descriptions on one line, cut at the limit)."""
        texts = self.words
        expiry = texts["whatsapp_expiry"].format(expires=self.expires) if self.expires else ""
        return texts[key].format(
            merchant=one_line(self.merchant, 100),
            amount=self.amount,
            description=one_line(self.description, description_limit),
            url=self.url,
            expires=self.expires or "",
            expiry=expiry,
        )


def email_text(content: LinkContent) -> str:
    """The plain-text part of the e-mail."""
    texts = content.words
    details = [
        f"{texts['for']}: {content.description}".replace("\n", "\n  "),
        f"{texts['amount']}: {content.amount}",
    ]
    if content.expires:
        details.append(f"{texts['expires']}: {content.expires}")
    parts = [
        texts["greeting"],
        content.text("intro"),
        "\n".join(details),
        f"{texts['pay']}\n{content.url}",
        texts["methods"],
        content.text("ignore"),
    ]
    return "\n\n".join(parts) + "\n"


def email_html(content: LinkContent) -> str:
    """The HTML part of the e-mail: every value escaped."""
    texts = content.words
    expiry_row = ""
    if content.expires:
        expiry_row = HTML_EXPIRY_ROW.format(
            label=escape(texts["expires"]), expires=escape(content.expires)
        )
    logo, shown = "", content.brand.logo
    if content.logo_url is not None and shown is not None:
        scale = min(1, LOGO_BOX[0] / shown.width, LOGO_BOX[1] / shown.height)
        logo = HTML_LOGO.format(
            url=escape(content.logo_url),
            merchant=escape(one_line(content.merchant, 100)),
            width=max(1, round(shown.width * scale)),
            height=max(1, round(shown.height * scale)),
        )
    return HTML.format(
        lang=content.language,
        color=content.brand.color or EMAIL_COLOR,
        logo=logo,
        subject=escape(content.text("subject")),
        greeting=escape(texts["greeting"]),
        intro=escape(content.text("intro")),
        label_for=escape(texts["for"]),
        description=escape(content.description).replace("\n", "<br>"),
        label_amount=escape(texts["amount"]),
        amount=escape(content.amount),
        expiry_row=expiry_row,
        url=escape(content.url),
        button=escape(texts["button"]),
        pay=escape(texts["pay"]),
        methods=escape(texts["methods"]),
        ignore=escape(content.text("ignore")),
    )


def compose(channel: Channel, to: str, content: LinkContent) -> Message:
    """The message of ``content``'s kind to ``to`` by ``channel``."""
    if channel == "email":
        return Message(
            channel,
            to,
            email_text(content),
            subject=content.text("subject"),
            html=email_html(content),
        )
    if channel == "sms":  # one SMS where the description allows: keep it short
        return Message(channel, to, content.text("sms", description_limit=60))
    return Message(channel, to, content.text("whatsapp"), template=content.template())


@dataclass(frozen=True)
class Share:
    """How a merchant shares a link themselves: URLs, a WhatsApp deep link, a post text."""

    language: Language
    url: str
    qr_url: str
    text: str
    whatsapp_text: str
    whatsapp_url: str


def share_for(content: LinkContent) -> Share:
    """The share payload; ``wa.me/?text=`` lets the merchant pick the chat in WhatsApp."""
    whatsapp_text = content.text("whatsapp")
    return Share(
        language=content.language,
        url=content.url,
        qr_url=content.qr_url,
        text=content.text("social", description_limit=100),
        whatsapp_text=whatsapp_text,
        whatsapp_url=f"https://wa.me/?text={quote(whatsapp_text, safe='')}",
    )
