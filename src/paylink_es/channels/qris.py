"""QRIS payloads: EMVCo merchant-presented QR (tag-length-value, CRC-16/CCITT-FALSE)."""

from __future__ import annotations


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def crc16_ccitt(data: bytes) -> str:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as four upper-case hex digits."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def qris_payload(
    *, acquirer: str, merchant_pan: str, merchant_name: str, city: str, amount: int, reference: str
) -> str:
    """A dynamic QRIS string for one payment of ``amount`` rupiah."""
    name = "".join(c for c in merchant_name if c.isascii() and c.isprintable())[:25] or "MERCHANT"
    body = "".join(
        [
            _tlv("00", "01"),  # payload format indicator
            _tlv("01", "12"),  # point of initiation: dynamic (one amount, one payment)
            _tlv("26", _tlv("00", acquirer) + _tlv("01", merchant_pan)),
            _tlv("52", "0000"),  # merchant category code
            _tlv("53", "360"),  # IDR
            _tlv("54", str(amount)),
            _tlv("58", "ID"),
            _tlv("59", name),
            _tlv("60", city[:15]),
            _tlv("62", _tlv("05", reference[:25])),
        ]
    )
    with_crc_tag = body + "6304"
    return with_crc_tag + crc16_ccitt(with_crc_tag.encode())


def parse_tlv(payload: str) -> dict[str, str]:
    """Top-level tags of a QRIS string (for tests and the status page)."""
    fields: dict[str, str] = {}
    index = 0
    while index < len(payload):
        tag, length = payload[index : index + 2], int(payload[index + 2 : index + 4])
        fields[tag] = payload[index + 4 : index + 4 + length]
        index += 4 + length
    return fields
