"""Document signing benchmark (not a test): signatures per second at PAdES B-B and B-LTA.

    .venv/bin/python benchmarks/sign.py [--bb 60] [--lta 25] [--rounds 3] [--key ec-p256]

On a 2-page penalty decision rendered with our template (``workflow.documents``), with one
unit certificate of a fresh PKI, the built-in TSA in-process and revocation data made locally
(no server), it times:

* **bare**: a pyHanko loop at its fastest -- one ``PdfSigner`` with the key kept loaded
  (``signing.signers.SoftwarePdfSigner``), its validation context built once, the PDF read
  from and written to memory, an invisible new signature field; for B-LTA also "bare, fresh
  revinfo": a new validation context (new local CRL/OCSP answers) for every signature, which
  is what makes pyHanko re-validate the chains each time;
* **ours**: ``workflow.documents.sign_document`` as the service calls it, invisible and
  visible (seal image + CJK stamp): PDF read from disk, signer looked up in the PKI register
  (revocation check), local revocation data for B-LTA (kept up to 60 s per thread), the
  signing times read back,
  the output hashed and written atomically (temporary file, fsync, rename).

Each configuration runs ``--rounds`` times (interleaved, after a warm-up); the best round
counts. It prints ms per signature, signatures per second, and ours/bare as a throughput ratio
(target >= 0.8 for the invisible signature, which does the same PDF work as the bare loop).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from certs import SubjectInfo  # noqa: E402
from certs.pki import Pki  # noqa: E402
from signing.timestamp import LocalTimestamper  # noqa: E402
from signing.tsa import TimeStampAuthority  # noqa: E402

UNIT = "示例市市场监督管理局"


def _pages(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


def _bare(
    pdf: bytes,
    pki: Pki,
    serial: int,
    timestamper: LocalTimestamper,
    level: str,
    fresh_revocation: bool = False,
) -> Callable[[], None]:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from signing.pades import pyhanko_timestamper
    from signing.signers import pdf_signer, validation_context

    credential = pki.credential(serial)
    signer = pdf_signer(credential, pki)
    lta = level == "b-lta"
    meta = signers.PdfSignatureMetadata(
        field_name="Bench",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=lta,
        use_pades_lta=lta,
        validation_context=validation_context(pki, online=False, for_certs=[credential.cert])
        if lta
        else None,
    )
    pdf_signer_obj = signers.PdfSigner(
        meta, signer, timestamper=pyhanko_timestamper(timestamper) if lta else None
    )

    def once() -> None:
        out = io.BytesIO()
        signer_obj = pdf_signer_obj
        if fresh_revocation:  # new CRLs/OCSP answers and a new context for every signature
            vc = validation_context(pki, online=False, for_certs=[credential.cert])
            signer_obj = signers.PdfSigner(
                dataclasses.replace(meta, validation_context=vc),
                signer,
                timestamper=pyhanko_timestamper(timestamper),
            )
        signer_obj.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False),
            output=out,
            bytes_reserved=16384 if lta else 8192,
        )

    return once


def _ours(
    source: Path, out_dir: Path, pki: Pki, timestamper: LocalTimestamper, level: str, visible: bool
) -> Callable[[], None]:
    from workflow.documents import SignatureRequest, sign_document

    request = SignatureRequest(UNIT, level=level, visible=visible)  # type: ignore[arg-type]
    output = out_dir / f"ours-{level}-{visible}.pdf"

    def once() -> None:
        sign_document(pki, source, output, request, timestampers=[timestamper])

    return once


def _time(fn: Callable[[], None], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bb", type=int, default=60, help="signatures per B-B round")
    parser.add_argument("--lta", type=int, default=25, help="signatures per B-LTA round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--key", default="ec-p256", choices=["ec-p256", "rsa-2048"])
    args = parser.parse_args()

    from workflow.documents import render_document, sample_data, seal
    from workflow.documents.signing import _signer

    with tempfile.TemporaryDirectory(prefix="sign-bench-") as tmp:
        base = Path(tmp)
        seal.set_cache_dir(base / "cache")
        pki = Pki.open(
            base / "pki",
            b"bench passphrase",
            hostname="bench.example",
            public_url="http://127.0.0.1:9",  # nothing listens: revocation data is local
        )
        record = pki.issue("unit", SubjectInfo(UNIT), key_type=args.key)
        timestamper = LocalTimestamper(TimeStampAuthority(pki.tsa_credential()))
        source = base / "decision.pdf"
        render_document("penalty_decision", sample_data("penalty_decision"), source)
        pdf = source.read_bytes()
        _signer(pki, record)  # load the key once, as a running service has
        print(
            f"document: penalty decision, {_pages(pdf)} pages, {len(pdf)} bytes; "
            f"signer: {args.key}; TSA in-process; revocation data local"
        )
        configs: dict[str, tuple[Callable[[], None], int]] = {}
        for level, n in (("b-b", args.bb), ("b-lta", args.lta)):
            configs[f"{level} bare"] = (_bare(pdf, pki, record.serial, timestamper, level), n)
            if level == "b-lta":
                configs["b-lta bare, fresh revinfo"] = (
                    _bare(pdf, pki, record.serial, timestamper, level, fresh_revocation=True),
                    n,
                )
            configs[f"{level} ours invisible"] = (
                _ours(source, base, pki, timestamper, level, False),
                n,
            )
            configs[f"{level} ours visible"] = (
                _ours(source, base, pki, timestamper, level, True),
                n,
            )
        for fn, _n in configs.values():  # warm-up: fonts, seal image, TSA adapter, caches
            for _ in range(3):
                fn()
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, (fn, n) in configs.items():
                seconds = _time(fn, n)
                best[name] = min(best.get(name, seconds), seconds)
        print(f"{'configuration':<26} {'ms/signature':>13} {'signatures/s':>13} {'vs bare':>8}")
        for name, seconds in best.items():
            level = name.split()[0]
            if "fresh" in name:
                print(f"{name:<26} {seconds * 1000:>13.1f} {1 / seconds:>13.1f} {'(ref)':>8}")
                continue
            ratio = best[f"{level} bare"] / seconds
            print(f"{name:<26} {seconds * 1000:>13.1f} {1 / seconds:>13.1f} {ratio:>8.2f}")


if __name__ == "__main__":
    main()
