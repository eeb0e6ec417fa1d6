"""The few DER encodings we must write by hand.

asn1crypto cannot build an RFC 3161 refusal (a ``TimeStampResp`` without a token, with a
``PKIFailureInfo`` bit string), so the TSA encodes refusals itself with these helpers.
"""

from __future__ import annotations


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def utf8_string(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def named_bit_string(bits: set[int]) -> bytes:
    """A DER BIT STRING with the given named bits set (bit 0 is the most significant bit of
    the first byte); DER drops trailing zero bits, so the last set bit ends the string."""
    if not bits:
        return tlv(0x03, b"\x00")
    last = max(bits)
    data = bytearray(last // 8 + 1)
    for bit in bits:
        data[bit // 8] |= 0x80 >> (bit % 8)
    unused = 7 - last % 8
    return tlv(0x03, bytes([unused]) + bytes(data))
