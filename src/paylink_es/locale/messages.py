"""Words of the messages about a link (the payment request, the reminder before its expiry,
the receipt of a payment: e-mail, SMS, WhatsApp and the share text) and of the alerts
e-mailed to the merchant. A reminder's and a receipt's own words have its prefix
(``reminder_``, ``receipt_``); the rest are the payment request's."""

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
        "reminder_subject": "Pengingat: tagihan dari {merchant} berlaku sampai {expires}",
        "reminder_intro": "Tagihan dari {merchant} belum dibayar dan berlaku sampai {expires}.",
        "reminder_sms": "{merchant}: pengingat, tagihan {amount} untuk {description} berlaku"
        " sampai {expires}. Bayar di {url}",
        "reminder_whatsapp": "Halo! Pengingat dari {merchant}: tagihan *{amount}* untuk"
        " {description} belum dibayar.\n{expiry}Bayar di sini: {url}",
        "receipt_subject": "Pembayaran diterima: {amount} untuk {merchant}",
        "receipt_intro": "Terima kasih! {merchant} telah menerima pembayaran Anda.",
        "receipt_amount": "Dibayar",
        "receipt_expires": "Waktu pembayaran",
        "receipt_pay": "Kuitansi Anda:",
        "receipt_button": "Lihat kuitansi",
        "receipt_methods": "Simpan pesan ini sebagai bukti pembayaran.",
        "receipt_ignore": "Jika Anda tidak merasa membayar {merchant}, abaikan pesan ini.",
        "receipt_whatsapp": "Terima kasih! {merchant} telah menerima pembayaran *{amount}*"
        " untuk {description}.\nKuitansi: {url}",
        "alert_greeting": "Halo {merchant},",
        "alert_test": "TES",
        "alert_live": "LIVE",
        "alert_payment_received_subject": "[{mode}] Pembayaran diterima: {amount} untuk"
        " {description}",
        "alert_payment_received": "Pembayaran {amount} untuk \u201c{description}\u201d telah"
        " diterima dan diverifikasi ({method}).",
        "alert_link_expired_subject": "[{mode}] Tautan berakhir tanpa dibayar: {description}",
        "alert_link_expired": "Tautan pembayaran \u201c{description}\u201d ({amount}) telah"
        " berakhir pada {when} tanpa pembayaran.",
        "alert_webhook_failing_subject": "[{mode}] Webhook gagal {failures} kali berturut-turut",
        "alert_webhook_failing": "Pengiriman ke endpoint webhook {url} gagal {failures} kali"
        " berturut-turut (terakhir: {last}). Pengiriman dicoba lagi otomatis; periksa"
        " endpoint Anda.",
        "alert_payout_paid_subject": "[{mode}] Pencairan berhasil: {amount}",
        "alert_payout_paid": "Pencairan {amount} ke {bank} telah ditransfer (referensi"
        " {reference}).",
        "alert_payout_failed_subject": "[{mode}] Pencairan gagal: {amount}",
        "alert_payout_failed": "Pencairan {amount} ke {bank} gagal: {reason}. Dana kembali ke"
        " saldo tersedia Anda.",
        "alert_look": "Lihat di dasbor: {url}",
        "alert_why": "Anda menerima e-mail ini karena notifikasi ini aktif. Ubah di {url}",
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
        "reminder_subject": "Reminder: payment request from {merchant}, valid until {expires}",
        "reminder_intro": "The payment request from {merchant} is not paid yet and is valid"
        " until {expires}.",
        "reminder_sms": "{merchant}: reminder, {amount} for {description} is valid until"
        " {expires}. Pay at {url}",
        "reminder_whatsapp": "Hello! A reminder from {merchant}: the payment request of"
        " *{amount}* for {description} is not paid yet.\n{expiry}Pay here: {url}",
        "receipt_subject": "Payment received: {amount} to {merchant}",
        "receipt_intro": "Thank you! {merchant} has received your payment.",
        "receipt_amount": "Paid",
        "receipt_expires": "Paid at",
        "receipt_pay": "Your receipt:",
        "receipt_button": "View receipt",
        "receipt_methods": "Keep this message as your proof of payment.",
        "receipt_ignore": "If you did not pay {merchant}, please ignore this message.",
        "receipt_whatsapp": "Thank you! {merchant} has received your payment of *{amount}*"
        " for {description}.\nReceipt: {url}",
        "alert_greeting": "Hello {merchant},",
        "alert_test": "TEST",
        "alert_live": "LIVE",
        "alert_payment_received_subject": "[{mode}] Payment received: {amount} for {description}",
        "alert_payment_received": "A payment of {amount} for \u201c{description}\u201d was"
        " received and verified ({method}).",
        "alert_link_expired_subject": "[{mode}] Link expired unpaid: {description}",
        "alert_link_expired": "The payment link \u201c{description}\u201d ({amount}) expired"
        " on {when} without a payment.",
        "alert_webhook_failing_subject": "[{mode}] Webhook failed {failures} times in a row",
        "alert_webhook_failing": "Deliveries to the webhook endpoint {url} failed {failures}"
        " times in a row (last: {last}). They are retried automatically; check your"
        " endpoint.",
        "alert_payout_paid_subject": "[{mode}] Payout paid: {amount}",
        "alert_payout_paid": "The payout of {amount} to {bank} was transferred (reference"
        " {reference}).",
        "alert_payout_failed_subject": "[{mode}] Payout failed: {amount}",
        "alert_payout_failed": "The payout of {amount} to {bank} failed: {reason}. The money"
        " is back in your available balance.",
        "alert_look": "See it on the dashboard: {url}",
        "alert_why": "You get this e-mail because this alert is on. Change it at {url}",
    },
}
