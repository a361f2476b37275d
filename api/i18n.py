"""Words of the hosted page in Bahasa Indonesia (default) and English."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("id", "en")

TEXT: Final[dict[str, dict[str, str]]] = {
    "id": {
        "title": "Pembayaran",
        "pay_to": "Bayar ke",
        "amount": "Jumlah",
        "surcharge": "termasuk biaya layanan {fee}",
        "choose_amount": "Masukkan jumlah",
        "between": "antara {low} dan {high}",
        "at_least": "minimal {low}",
        "items": "Rincian",
        "qty": "jml",
        "expires": "Berlaku sampai",
        "expires_in": "Sisa waktu",
        "choose_method": "Pilih metode pembayaran",
        "pay": "Lanjutkan pembayaran",
        "virtual_account": "Virtual Account (transfer bank)",
        "qris": "QRIS",
        "ewallet": "Dompet digital",
        "card": "Kartu kredit / debit",
        "retail": "Gerai retail",
        "va_number": "Nomor Virtual Account",
        "bank": "Bank",
        "copy": "Salin",
        "copied": "Tersalin",
        "va_steps": "Buka aplikasi atau ATM {bank}|Pilih Transfer, "
        "lalu Virtual Account|Masukkan nomor Virtual Account di atas|Periksa jumlah {amount} "
        "dan konfirmasi",
        "qris_steps": "Buka aplikasi bank atau dompet digital mana pun|Pindai kode QR ini|"
        "Periksa jumlah {amount} dan bayar",
        "ewallet_go": "Lanjut ke {wallet}",
        "retail_code": "Kode pembayaran",
        "retail_steps": "Datang ke kasir {outlet}|Sebutkan kode pembayaran di atas|Bayar {amount}",
        "card_number": "Nomor kartu",
        "card_expiry": "Berlaku hingga (BB/TT)",
        "card_cvc": "CVC",
        "card_pay": "Bayar {amount}",
        "card_note": "Sandbox: nomor kartu tidak pernah disimpan.",
        "waiting": "Menunggu pembayaran…",
        "simulate": "Simulasikan pembayaran (mode uji)",
        "test_mode": "MODE UJI — tidak ada uang sungguhan",
        "receipt": "Pembayaran berhasil",
        "receipt_thanks": "Terima kasih! Pembayaran Anda telah diterima dan diverifikasi.",
        "paid_at": "Dibayar pada",
        "reference": "Referensi",
        "method": "Metode",
        "back_to_merchant": "Kembali ke penjual",
        "expired": "Tautan pembayaran ini sudah kedaluwarsa",
        "expired_detail": "Hubungi penjual untuk meminta tautan baru.",
        "cancelled": "Tautan pembayaran ini dibatalkan",
        "cancelled_detail": "Penjual telah membatalkan permintaan pembayaran ini.",
        "completed": "Tautan pembayaran ini sudah dibayar",
        "completed_detail": "Tidak ada lagi yang perlu dibayar di sini.",
        "not_found": "Tautan pembayaran tidak ditemukan",
        "not_found_detail": "Periksa kembali alamatnya, atau hubungi penjual.",
        "bad_request": "Permintaan tidak dapat diproses",
        "forbidden": "Sesi Anda tidak valid. Muat ulang halaman lalu coba lagi.",
        "unavailable": "Metode ini belum tersedia untuk pembayaran sungguhan.",
        "rejected": "Pembayaran ditolak",
        "review": "Pembayaran sedang ditinjau",
        "review_detail": "Dana Anda diterima dan sedang diperiksa oleh penjual.",
        "language": "English",
        "processing": "Pembayaran diterima, sedang diverifikasi…",
        "amount_error": "Jumlah harus {range}.",
        "method_error": "Pilih salah satu metode pembayaran di bawah ini.",
    },
    "en": {
        "title": "Payment",
        "pay_to": "Pay to",
        "amount": "Amount",
        "surcharge": "includes a service fee of {fee}",
        "choose_amount": "Enter the amount",
        "between": "between {low} and {high}",
        "at_least": "at least {low}",
        "items": "Items",
        "qty": "qty",
        "expires": "Valid until",
        "expires_in": "Time left",
        "choose_method": "Choose a payment method",
        "pay": "Continue to payment",
        "virtual_account": "Virtual account (bank transfer)",
        "qris": "QRIS",
        "ewallet": "E-wallet",
        "card": "Credit / debit card",
        "retail": "Retail outlet",
        "va_number": "Virtual account number",
        "bank": "Bank",
        "copy": "Copy",
        "copied": "Copied",
        "va_steps": "Open the {bank} app or ATM|Choose Transfer, then "
        "Virtual Account|Enter the virtual account number above|Check the amount {amount} "
        "and confirm",
        "qris_steps": "Open any bank or e-wallet app|Scan this QR code|Check the amount "
        "{amount} and pay",
        "ewallet_go": "Continue to {wallet}",
        "retail_code": "Payment code",
        "retail_steps": "Go to a {outlet} cashier|Give the payment code above|Pay {amount}",
        "card_number": "Card number",
        "card_expiry": "Expiry (MM/YY)",
        "card_cvc": "CVC",
        "card_pay": "Pay {amount}",
        "card_note": "Sandbox: card numbers are never stored.",
        "waiting": "Waiting for your payment…",
        "simulate": "Simulate payment (test mode)",
        "test_mode": "TEST MODE — no real money",
        "receipt": "Payment successful",
        "receipt_thanks": "Thank you! Your payment has been received and verified.",
        "paid_at": "Paid at",
        "reference": "Reference",
        "method": "Method",
        "back_to_merchant": "Back to the merchant",
        "expired": "This payment link has expired",
        "expired_detail": "Ask the merchant for a new link.",
        "cancelled": "This payment link was cancelled",
        "cancelled_detail": "The merchant cancelled this payment request.",
        "completed": "This payment link has been paid",
        "completed_detail": "There is nothing more to pay here.",
        "not_found": "Payment link not found",
        "not_found_detail": "Check the address, or ask the merchant.",
        "bad_request": "The request could not be processed",
        "forbidden": "Your session is not valid. Reload the page and try again.",
        "unavailable": "This method is not available for real payments yet.",
        "rejected": "Payment rejected",
        "review": "Payment under review",
        "review_detail": "Your money arrived and the merchant is checking it.",
        "language": "Bahasa Indonesia",
        "processing": "Payment received, verifying…",
        "amount_error": "The amount must be {range}.",
        "method_error": "Choose one of the payment methods below.",
    },
}


def rupiah(amount: int, currency: str, language: str) -> str:
    """People's way of writing money: ``Rp 150.000`` (id) or ``IDR 150,000`` (en)."""
    grouped = f"{amount:,}"
    if currency == "IDR":
        return f"Rp {grouped.replace(',', '.')}" if language == "id" else f"IDR {grouped}"
    whole, cents = divmod(amount, 100)
    text = f"{whole:,}.{cents:02d}"
    if language == "id":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{currency} {text}"
