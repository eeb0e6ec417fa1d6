"""Keys that live in an HSM, reached through PKCS#11 (python-pkcs11; tested with SoftHSM2).

Why a process-wide session per token: PKCS#11 login state belongs to the application, not to
a session. A second ``C_Login`` while a session is logged in fails with
``CKR_USER_ALREADY_LOGGED_IN`` -- without checking the PIN -- and closing any session that
logged in logs out every other one, killing a signer in use. So each process opens one
logged-in read/write session per token, keeps it, and serializes operations on it with a
lock (a session runs one operation at a time). Because the token no longer checks the PIN
once logged in, the PIN's digest is remembered in memory and a different PIN is refused.

PINs are read from the environment variable the :class:`HsmKeyRef` names, at the moment they
are needed; they are never stored, logged or put in an error message. ``pkcs11`` is imported
lazily, so ``certs`` works without python-pkcs11 as long as no HSM is used.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from .errors import HsmError, HsmPinError

__all__ = [
    "HsmKey",
    "HsmKeyRef",
    "HsmSession",
    "close_sessions",
    "discard_if_dead",
    "generate_key",
    "hsm_session",
    "store_certificate",
]


@dataclass(frozen=True)
class HsmKeyRef:
    """Where a key lives: PKCS#11 module, token label, key label, and the NAME of the
    environment variable holding the user PIN (never the PIN itself)."""

    module: Path
    token_label: str
    key_label: str
    pin_env: str

    def pin(self) -> str:
        value = os.environ.get(self.pin_env)
        if not value:
            raise HsmPinError(
                f"the PIN of HSM token {self.token_label!r} is expected in the environment "
                f"variable {self.pin_env}, which is not set (or empty)"
            )
        return value

    def to_json(self) -> dict[str, str]:
        return {
            "module": str(self.module),
            "token_label": self.token_label,
            "key_label": self.key_label,
            "pin_env": self.pin_env,
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> HsmKeyRef:
        return cls(Path(data["module"]), data["token_label"], data["key_label"], data["pin_env"])

    def describe(self) -> str:
        return f"HSM token {self.token_label!r}, key {self.key_label!r} ({self.module})"


@dataclass(frozen=True)
class HsmKey:
    """A key pair just generated on a token."""

    public_key: CertificatePublicKeyTypes
    #: CKA_ID shared by the private key, public key and certificate objects (the SHA-1 of the
    #: public key, like the certificate's subjectKeyIdentifier).
    key_id: bytes


class HsmSession:
    """One logged-in PKCS#11 session; use :attr:`lock` around every operation on it."""

    def __init__(self, session: Any, pin_digest: bytes, ref: HsmKeyRef) -> None:
        self.session = session
        self.lock = threading.RLock()
        self._pin_digest = pin_digest
        self._where = f"HSM token {ref.token_label!r} ({ref.module})"

    def check_pin(self, pin: str) -> None:
        if not hmac.compare_digest(self._pin_digest, _digest(pin)):
            raise HsmPinError(
                f"{self._where} is already open in this process with another PIN; the PIN "
                "given now is not the one that logged in (check the PIN variable)"
            )


_sessions: dict[tuple[str, str], HsmSession] = {}
_sessions_lock = threading.Lock()


def _digest(pin: str) -> bytes:
    return hashlib.sha256(b"evidence-hsm-pin\0" + pin.encode()).digest()


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - python-pkcs11 is a dependency
        raise HsmError(
            "HSM keys need the python-pkcs11 package (pip install 'python-pkcs11~=0.9.3')"
        ) from None
    return pkcs11


def hsm_session(ref: HsmKeyRef) -> HsmSession:
    """The process's logged-in session on ``ref``'s token (opened on first use)."""
    pin = ref.pin()
    key = (str(Path(ref.module).resolve()), ref.token_label)
    with _sessions_lock:
        existing = _sessions.get(key)
        if existing is not None:
            existing.check_pin(pin)
            return existing
        pkcs11 = _pkcs11()
        module = Path(ref.module)
        if not module.is_file():
            raise HsmError(f"PKCS#11 module {module} does not exist (check the module path)")
        try:
            lib = pkcs11.lib(str(module))
        except Exception as exc:
            raise HsmError(f"cannot load PKCS#11 module {module}: {exc}") from None
        try:
            token = lib.get_token(token_label=ref.token_label)
        except pkcs11.NoSuchToken:
            raise HsmError(
                f"no token labelled {ref.token_label!r} in PKCS#11 module {module} (is the "
                "token initialised, and the module's configuration -- e.g. SOFTHSM2_CONF -- "
                "the right one?)"
            ) from None
        except pkcs11.MultipleTokensReturned:
            raise HsmError(
                f"several tokens are labelled {ref.token_label!r} in {module}; labels must be "
                "unique"
            ) from None
        try:
            session = token.open(rw=True, user_pin=pin)
        except pkcs11.PinIncorrect:
            raise HsmPinError(
                f"HSM token {ref.token_label!r} refused the PIN from ${ref.pin_env} (wrong PIN; "
                "repeated failures lock the token)"
            ) from None
        except pkcs11.PinLocked:
            raise HsmPinError(
                f"the user PIN of HSM token {ref.token_label!r} is locked after too many wrong "
                "attempts; the security officer must unlock it"
            ) from None
        except (pkcs11.PinLenRange, pkcs11.PinInvalid):
            raise HsmPinError(
                f"the PIN in ${ref.pin_env} is not a valid PIN for HSM token "
                f"{ref.token_label!r} (length or characters)"
            ) from None
        except pkcs11.UserAlreadyLoggedIn:
            raise HsmError(
                f"HSM token {ref.token_label!r} is already logged in by other code in this "
                "process; open it only through certs.hsm"
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise HsmError(
                f"cannot open HSM token {ref.token_label!r}: {type(exc).__name__}"
            ) from None
        opened = HsmSession(session, _digest(pin), ref)
        _sessions[key] = opened
        return opened


def close_sessions() -> None:
    """Log out and close every session this process opened (at exit, and for tests)."""
    with _sessions_lock:
        items = list(_sessions.values())
        _sessions.clear()
    for s in items:
        # Already closed or token removed: nothing left to release.
        with s.lock, contextlib.suppress(Exception):
            s.session.close()


atexit.register(close_sessions)


def discard_if_dead(ref: HsmKeyRef, exc: BaseException) -> None:
    """Forget the cached session after an error that means it is gone (token removed, HSM
    restarted, session closed), so the next operation logs in again instead of failing
    for the rest of the process's life."""
    pkcs11 = _pkcs11()
    dead = (
        pkcs11.SessionHandleInvalid,
        pkcs11.SessionClosed,
        pkcs11.DeviceRemoved,
        pkcs11.TokenNotPresent,
        pkcs11.UserNotLoggedIn,
    )
    if isinstance(exc, dead):
        with _sessions_lock:
            _sessions.pop((str(Path(ref.module).resolve()), ref.token_label), None)


@contextmanager
def _operation(ref: HsmKeyRef) -> Iterator[Any]:
    opened = hsm_session(ref)
    pkcs11 = _pkcs11()
    with opened.lock:
        try:
            yield opened.session
        except pkcs11.PKCS11Error as exc:
            discard_if_dead(ref, exc)
            raise HsmError(
                f"{ref.describe()}: the token refused the operation ({type(exc).__name__})"
            ) from None


def generate_key(ref: HsmKeyRef, key_type: Literal["ec-p256", "rsa-2048"]) -> HsmKey:
    """Generate a non-extractable signing key pair on the token, labelled ``ref.key_label``,
    and prove it signs (the CA certifies only a key it has seen sign)."""
    pkcs11 = _pkcs11()
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import encode_rsa_public_key

    with _operation(ref) as session:
        if _find_by_label(session, ref.key_label):
            raise HsmError(
                f"{ref.describe()}: a key with this label already exists on the token; choose "
                "another key label"
            )
        private_template = {
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.PRIVATE: True,
        }
        try:
            if key_type == "ec-p256":
                params = session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                    local=True,
                )
                pub, priv = params.generate_keypair(
                    store=True, label=ref.key_label, private_template=private_template
                )
                spki = encode_ec_public_key(pub)
            elif key_type == "rsa-2048":
                pub, priv = session.generate_keypair(
                    KeyType.RSA,
                    2048,
                    store=True,
                    label=ref.key_label,
                    private_template=private_template,
                )
                spki = _rsa_spki(encode_rsa_public_key(pub))
            else:
                raise HsmError(f"unknown key type {key_type!r}")
        except pkcs11.PKCS11Error as exc:
            raise HsmError(
                f"{ref.describe()}: key generation failed ({type(exc).__name__})"
            ) from None
        public_key = serialization.load_der_public_key(spki)
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise HsmError(f"{ref.describe()}: the token returned an unexpected public key")
        key_id = x509.SubjectKeyIdentifier.from_public_key(public_key).digest
        pub[Attribute.ID] = key_id
        priv[Attribute.ID] = key_id
        _prove_possession(priv, public_key, ref)
        return HsmKey(public_key=public_key, key_id=key_id)


def _find_by_label(session: Any, label: str) -> list[Any]:
    from pkcs11 import Attribute

    return list(session.get_objects({Attribute.LABEL: label}))


def _rsa_spki(rsa_public_key_der: bytes) -> bytes:
    """python-pkcs11 encodes a bare PKCS#1 RSAPublicKey; certificates need the SPKI."""
    from asn1crypto.keys import PublicKeyInfo, RSAPublicKey

    return bytes(PublicKeyInfo.wrap(RSAPublicKey.load(rsa_public_key_der), "rsa").dump())


def _prove_possession(priv: Any, public_key: CertificatePublicKeyTypes, ref: HsmKeyRef) -> None:
    from pkcs11 import Mechanism
    from pkcs11.util.ec import encode_ecdsa_signature

    challenge = os.urandom(32)
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            digest = hashlib.sha256(challenge).digest()
            raw = priv.sign(digest, mechanism=Mechanism.ECDSA)
            public_key.verify(
                encode_ecdsa_signature(raw), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
            )
        elif isinstance(public_key, rsa.RSAPublicKey):
            sig = priv.sign(challenge, mechanism=Mechanism.SHA256_RSA_PKCS)
            public_key.verify(sig, challenge, padding.PKCS1v15(), hashes.SHA256())
        else:  # pragma: no cover - generate_key makes only EC and RSA keys
            raise HsmError(f"{ref.describe()}: unsupported key type")
    except InvalidSignature:
        raise HsmError(
            f"{ref.describe()}: the new key's test signature does not verify; the token is "
            "not working correctly"
        ) from None


def store_certificate(ref: HsmKeyRef, cert: x509.Certificate, key_id: bytes) -> None:
    """Put the issued certificate on the token beside its key (same label and CKA_ID), where
    PKCS#11 tools and other signing software look for it."""
    from pkcs11 import Attribute, CertificateType, ObjectClass

    der = cert.public_bytes(serialization.Encoding.DER)
    with _operation(ref) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: ref.key_label,
                Attribute.ID: key_id,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.ISSUER: cert.issuer.public_bytes(),
                Attribute.SERIAL_NUMBER: _der_integer(cert.serial_number),
                Attribute.VALUE: der,
            }
        )


def _der_integer(value: int) -> bytes:
    from asn1crypto.core import Integer

    return bytes(Integer(value).dump())
