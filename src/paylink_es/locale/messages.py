"""Words of the messages that send a link: e-mail, SMS, WhatsApp and the share text."""

from __future__ import annotations

from typing import Final

from paylink_es.locale.formats import Language

MESSAGE_TEXT: Final[dict[Language, dict[str, str]]] = {
    "id": {
        "subject": "Tagihan dari {merchant}: {amount}",
        "greeting": "Halo,",
        "intro": "{merchant} mengirimkan tautan pembayaran untuk Anda.",
        "for": "Untuk",
        "amount": "Jumlah",
        "amount_range": "{low} \u2013 {high}",
        "amount_from": "min. {low}",
        "expires": "Berlaku sampai",
        "pay": "Bayar di sini:",
        "button": "Bayar sekarang",
        "methods": "Anda bisa membayar dengan transfer bank (virtual account), QRIS, e-wallet"
        " atau metode lain yang tersedia di halaman pembayaran.",
        "ignore": "Jika Anda tidak merasa bertransaksi dengan {merchant}, abaikan pesan ini.",
        "sms": "{merchant}: tagihan {amount} untuk {description}. Bayar di {url}",
        "whatsapp": "Halo! {merchant} mengirimkan tagihan *{amount}* untuk {description}.\n"
        "{expiry}Bayar di sini: {url}",
        "whatsapp_expiry": "Berlaku sampai {expires}.\n",
        "no_expiry": "tanpa batas waktu",
        "social": "Bayar {description} dari {merchant} ({amount}) di sini: {url}",
    },
    "en": {
        "subject": "Payment request from {merchant}: {amount}",
        "greeting": "Hello,",
        "intro": "{merchant} has sent you a payment link.",
        "for": "For",
        "amount": "Amount",
        "amount_range": "{low} \u2013 {high}",
        "amount_from": "from {low}",
        "expires": "Valid until",
        "pay": "Pay here:",
        "button": "Pay now",
        "methods": "You can pay by bank transfer (virtual account), QRIS, e-wallet or another"
        " method offered on the payment page.",
        "ignore": "If you have no dealings with {merchant}, please ignore this message.",
        "sms": "{merchant}: payment request of {amount} for {description}. Pay at {url}",
        "whatsapp": "Hello! {merchant} has sent you a payment request of *{amount}* for"
        " {description}.\n{expiry}Pay here: {url}",
        "whatsapp_expiry": "Valid until {expires}.\n",
        "no_expiry": "no expiry date",
        "social": "Pay {merchant} {amount} for {description} here: {url}",
    },
}
