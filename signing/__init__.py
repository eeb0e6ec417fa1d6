"""Signatures and time-stamps: the built-in RFC 3161 TSA, the TSA client, token verification
and WACZ package signing. Knows nothing of browsers or HTTP frameworks; imports only ``certs``.
"""

from .errors import (
    ClockSkewError,
    SignatureError,
    SigningError,
    TimestampError,
    TimestampVerificationError,
    TsaBadResponseError,
    TsaChainError,
    TsaRefusedError,
    TsaUnavailableError,
)
from .timestamp import (
    HttpTimestamper,
    LocalTimestamper,
    Timestamper,
    TimestampToken,
    read_timestamp,
    verify_timestamp,
)
from .tsa import EVIDENCE_TSA_POLICY_OID, TimeStampAuthority
from .wacz_sign import PackageSigner, SignatureCheck, verify_signed_data

__all__ = [
    "EVIDENCE_TSA_POLICY_OID",
    "ClockSkewError",
    "HttpTimestamper",
    "LocalTimestamper",
    "PackageSigner",
    "SignatureCheck",
    "SignatureError",
    "SigningError",
    "TimeStampAuthority",
    "TimestampError",
    "TimestampToken",
    "TimestampVerificationError",
    "Timestamper",
    "TsaBadResponseError",
    "TsaChainError",
    "TsaRefusedError",
    "TsaUnavailableError",
    "read_timestamp",
    "verify_signed_data",
    "verify_timestamp",
]
