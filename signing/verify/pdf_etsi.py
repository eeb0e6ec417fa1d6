"""Every outcome of validating a PDF with pyHanko, and its ETSI EN 319 102-1 indication.

ONE table (:data:`OUTCOMES`): ``signing.verify.pdf`` judges every signature, document
time-stamp and file through :func:`outcome` by key, so the indication a court reads cannot
drift from the documented one; ``docs/etsi-indications.md`` carries the same table, generated
by :func:`markdown_table` (``python -m signing.verify.pdf_etsi docs/etsi-indications.md``
rewrites it, and a test fails when the two differ).

Where pyHanko's own sub-indication is not the ETSI one, the table says so: pyHanko reports a
self-signed signer outside the trust bundle as ``CHAIN_CONSTRAINTS_FAILURE`` (its
``InvalidCertificateError``), but EN 319 102-1 §5.2.6 calls a chain that reaches no trust
anchor ``NO_CERTIFICATE_CHAIN_FOUND`` -- as the WACZ path already does.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .model import FAILED_SUB_INDICATIONS, Indication, Sub, Text

__all__ = ["OUTCOMES", "Outcome", "markdown_table", "outcome", "resolve", "trust_outcome"]


@dataclass(frozen=True)
class Outcome:
    """One row: ``key`` (used by the code and reported as ``outcome``), what pyHanko reports,
    the ETSI indication and sub-indication, and what it means for a reader."""

    key: str
    pyhanko: str
    indication: Indication
    sub: Sub | None
    meaning: Text
    #: The sub-indication is pyHanko's own (INDETERMINATE ones kept, TOTAL-FAILED ones as
    #: GENERIC); ``sub`` is then the one used when pyHanko names none.
    passthrough: bool = False


_I, _F, _P = Indication.INDETERMINATE, Indication.TOTAL_FAILED, Indication.TOTAL_PASSED

OUTCOMES: tuple[Outcome, ...] = (
    Outcome(
        "valid",
        "`intact`, `valid`, `trusted`; coverage and difference analysis accept every later "
        "change; revocation not found revoked",
        _P,
        None,
        Text("签名（或时间戳）有效。", "The signature (or time-stamp) is valid."),
    ),
    Outcome(
        "not-pdf",
        "no `%PDF-` header in the first 1 KiB (pyHanko is not called)",
        _F,
        Sub.FORMAT_FAILURE,
        Text("文件不是 PDF。", "The file is not a PDF."),
    ),
    Outcome(
        "unreadable",
        "`PdfFileReader` or the signature enumeration raises (`PdfReadError`, ...)",
        _F,
        Sub.FORMAT_FAILURE,
        Text("PDF 文件结构损坏。", "The PDF file structure is damaged."),
    ),
    Outcome(
        "encrypted",
        "`PdfFileReader.encrypted`",
        _I,
        Sub.SIGNED_DATA_NOT_FOUND,
        Text(
            "PDF 已加密，没有密码无法读取被签名的数据。",
            "Encrypted: the signed data cannot be read without the password.",
        ),
    ),
    Outcome(
        "no-signature",
        "`PdfFileReader.embedded_signatures` is empty",
        _I,
        Sub.NO_SIGNING_CERTIFICATE_FOUND,
        Text("PDF 中没有数字签名。", "The PDF carries no digital signature."),
    ),
    Outcome(
        "signature-damaged",
        "`async_validate_pdf_signature` / `async_validate_pdf_timestamp` raises (CMS that "
        "asn1crypto cannot parse, missing signer info, ...)",
        _F,
        Sub.FORMAT_FAILURE,
        Text("签名结构损坏。", "The signature structure is damaged."),
    ),
    Outcome(
        "digest-mismatch",
        "`intact` is False (the digest over the byte range differs from the signed one)",
        _F,
        Sub.HASH_FAILURE,
        Text("被签名的字节在签名后被改动。", "The signed bytes were altered after signing."),
    ),
    Outcome(
        "signature-invalid",
        "`valid` is False (the signature value does not verify with the signer's key)",
        _F,
        Sub.SIG_CRYPTO_FAILURE,
        Text("签名值无效。", "The signature value is invalid."),
    ),
    Outcome(
        "partial-coverage",
        "`coverage` below `ENTIRE_REVISION` (`UNCLEAR`, `CONTIGUOUS_BLOCK_FROM_START`: the "
        "byte range leaves part of its revision unsigned)",
        _F,
        Sub.FORMAT_FAILURE,
        Text(
            "签名没有覆盖其修订版本的全部内容。", "The signature does not cover its whole revision."
        ),
    ),
    Outcome(
        "docmdp-violated",
        "`docmdp_ok` is False for a `modification_level` pyHanko did classify, above the "
        "certification signature's DocMDP permission; or `SuspiciousModification` for a "
        "field locked by FieldMDP or a change only an approval signature allows",
        _F,
        Sub.FORMAT_FAILURE,
        Text(
            "签名后的改动超出认证签名允许的范围。",
            "A change after signing goes beyond what the certification signature permits.",
        ),
    ),
    Outcome(
        "changed-visibly",
        "`modification_level` OTHER (unclassified); rendering the signed revision and the "
        "final file shows a page added or removed or pixels changed",
        _F,
        Sub.FORMAT_FAILURE,
        Text("签名后文档显示的内容被改动。", "What the document shows was changed after signing."),
    ),
    Outcome(
        "attachments-changed",
        "`modification_level` OTHER; no visible difference, but an embedded file differs "
        "from the signed revision's",
        _F,
        Sub.FORMAT_FAILURE,
        Text("签名后附件被改动。", "An embedded file was changed after signing."),
    ),
    Outcome(
        "changes-not-judged",
        "`modification_level` OTHER, and the revisions cannot be rendered (or have more "
        "pages than are compared)",
        _I,
        Sub.GENERIC,
        Text(
            "签名后有无法归类且无法判断的改动。",
            "A change after signing can be neither classified nor judged.",
        ),
    ),
    Outcome(
        "revoked",
        "`revocation_details` (signer's certificate) with a trusted time (signature or later "
        "document time-stamp) at or after the revocation",
        _F,
        Sub.REVOKED,
        Text(
            "签名时签名者证书已被吊销。",
            "The signer's certificate was revoked before the signature's proven time.",
        ),
    ),
    Outcome(
        "revoked-no-poe",
        "`revocation_details` (signer's certificate), no trusted time",
        _I,
        Sub.REVOKED_NO_POE,
        Text(
            "证书已吊销，且无法证明签名早于吊销。",
            "Revoked, and nothing proves the signature came first.",
        ),
    ),
    Outcome(
        "ca-revoked-no-poe",
        "`revocation_details.ca_revoked` (a CA certificate of the chain), no trusted time "
        "before it",
        _I,
        Sub.REVOKED_CA_NO_POE,
        Text(
            "上级 CA 证书已吊销，且无法证明签名早于吊销。",
            "A CA certificate was revoked, and nothing proves the signature came first.",
        ),
    ),
    Outcome(
        "untrusted-root",
        "`trust_problem_indic` NO_CERTIFICATE_CHAIN_FOUND (`PathBuildingError`); the "
        "certificates at hand lead to a self-signed root that is not in the trust bundle",
        _I,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
        Text("证书链的根证书不在信任范围内。", "The chain ends in a root that is not trusted."),
    ),
    Outcome(
        "untrusted-self-signed",
        "`trust_problem_indic` CHAIN_CONSTRAINTS_FAILURE (`InvalidCertificateError`: "
        '"self-signed"): the signer\'s certificate is its own root, not in the bundle',
        _I,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
        Text(
            "证书为自签名证书，且不在信任范围内。",
            "The certificate is self-signed and not trusted.",
        ),
    ),
    Outcome(
        "missing-issuer",
        "`trust_problem_indic` NO_CERTIFICATE_CHAIN_FOUND (`PathBuildingError`); an issuer "
        "certificate is in neither the signature, the DSS nor the trust bundle",
        _I,
        Sub.NO_CERTIFICATE_CHAIN_FOUND,
        Text(
            "证书链不完整：缺少上级证书。",
            "The chain is incomplete: an issuer certificate is missing.",
        ),
    ),
    Outcome(
        "wrong-key-usage",
        "`trust_problem_indic` CHAIN_CONSTRAINTS_FAILURE (`InvalidCertificateError`: key "
        "usage), e.g. neither digitalSignature nor nonRepudiation",
        _I,
        Sub.CHAIN_CONSTRAINTS_FAILURE,
        Text(
            "证书的用途（密钥用法）不允许签名。",
            "The certificate's key usage does not allow signing.",
        ),
    ),
    Outcome(
        "chain-general-failure",
        "`trust_problem_indic` CERTIFICATE_CHAIN_GENERAL_FAILURE (`PathValidationError`, "
        "e.g. an issuer that is not a CA)",
        _I,
        Sub.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        Text("证书链验证失败。", "The certificate chain does not validate."),
    ),
    Outcome(
        "weak-algorithm",
        "`trust_problem_indic` CRYPTO_CONSTRAINTS_FAILURE or CRYPTO_CONSTRAINTS_FAILURE_NO_POE "
        "(`DisallowedAlgorithmError`, e.g. SHA-1)",
        _I,
        Sub.CRYPTO_CONSTRAINTS_FAILURE,
        Text("使用的算法已不足以作为证据。", "An algorithm used is too weak to rely on."),
    ),
    Outcome(
        "expired-no-poe",
        "`trust_problem_indic` OUT_OF_BOUNDS_NO_POE / EXPIRED / OUT_OF_BOUNDS_NOT_REVOKED, and "
        "`ades_lta_validation` (local data only) finds no proof of existence in time",
        _I,
        Sub.OUT_OF_BOUNDS_NO_POE,
        Text(
            "证书已过期，且无法证明签名产生于有效期内。",
            "A certificate has expired and "
            "nothing proves the signature was made while it was valid.",
        ),
    ),
    Outcome(
        "revocation-unknown-required",
        "hard-fail revocation checking fails with offline data only, and the policy "
        "requires revocation information",
        _I,
        Sub.TRY_LATER,
        Text(
            "缺少离线吊销信息，按策略无法确定。",
            "Revocation information is not available offline and the policy requires it.",
        ),
    ),
    Outcome(
        "trust-other",
        "any other `trust_problem_indic` (or past-validation `ades_subindic`) pyHanko reports",
        _I,
        Sub.GENERIC,
        Text("证书不能通过验证。", "The certificate does not validate."),
        passthrough=True,
    ),
)

_BY_KEY = {o.key: o for o in OUTCOMES}
if len(_BY_KEY) != len(OUTCOMES):  # pragma: no cover - a duplicated key is a coding error
    raise RuntimeError("duplicate outcome keys")


def outcome(key: str) -> Outcome:
    """The row named ``key`` (KeyError for a key not in the table: a coding error)."""
    return _BY_KEY[key]


def resolve(row: Outcome, pyhanko_sub: Sub | None = None) -> tuple[Indication, Sub | None]:
    """The indication and sub-indication of ``row`` (pyHanko's own for a passthrough row)."""
    if row.passthrough and pyhanko_sub is not None:
        return row.indication, Sub.GENERIC if pyhanko_sub in FAILED_SUB_INDICATIONS else pyhanko_sub
    return row.indication, row.sub


#: pyHanko's ``AdESIndeterminate`` names -> row, for the trust problems that map one to one.
_TRUST_ROWS = {
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "chain-general-failure",
    "CRYPTO_CONSTRAINTS_FAILURE": "weak-algorithm",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "weak-algorithm",
    "OUT_OF_BOUNDS_NO_POE": "expired-no-poe",
    "OUT_OF_BOUNDS_NOT_REVOKED": "expired-no-poe",
    "EXPIRED": "expired-no-poe",
    "REVOKED_NO_POE": "revoked-no-poe",
    "REVOKED_CA_NO_POE": "ca-revoked-no-poe",
}


def trust_outcome(pyhanko_indic: str | None, chain: str) -> Outcome:
    """The row for a signer pyHanko does not trust. ``pyhanko_indic``: the name of pyHanko's
    ``trust_problem_indic``; ``chain``: what the certificates at hand show -- "self-signed"
    (the signer is its own root, not trusted), "untrusted-root", "missing-issuer" or
    "trusted-anchor" (the chain reaches a trust anchor)."""
    name = pyhanko_indic or "NO_CERTIFICATE_CHAIN_FOUND"
    if name == "NO_CERTIFICATE_CHAIN_FOUND" or (
        name == "CHAIN_CONSTRAINTS_FAILURE" and chain == "self-signed"
    ):
        return outcome(
            {"self-signed": "untrusted-self-signed", "missing-issuer": "missing-issuer"}.get(
                chain, "untrusted-root"
            )
        )
    if name == "CHAIN_CONSTRAINTS_FAILURE":
        return outcome("wrong-key-usage")
    return outcome(_TRUST_ROWS.get(name, "trust-other"))


def markdown_table() -> str:
    """The table as Markdown (what ``docs/etsi-indications.md`` carries between its markers)."""
    lines = [
        "| Outcome | What pyHanko reports | Indication | Sub-indication | Meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in OUTCOMES:
        sub = row.sub.value if row.sub else "—"
        if row.passthrough:
            sub = f"pyHanko's own ({sub} for a TOTAL-FAILED one)"
        cells = [f"`{row.key}`", row.pyhanko, row.indication.value, sub, row.meaning.en]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


BEGIN = "<!-- BEGIN OUTCOMES: generated by `python -m signing.verify.pdf_etsi`; do not edit -->"
END = "<!-- END OUTCOMES -->"


def rewrite_document(path: Path) -> bool:
    """Replace the table between :data:`BEGIN` and :data:`END` in ``path``; True if changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{markdown_table()}{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/etsi-indications.md")
    print(f"{target}: {'rewritten' if rewrite_document(target) else 'up to date'}")
