"""Large WACZ packages, quickly: a WARC of incompressible HTTP responses written straight into
a stored ZIP member (as real WACZ store it), with a CDXJ index, pages, datapackage and a real
signature. Used by the memory test and ``benchmarks/verify.py``.

Why not ``capture.wacz.build_wacz``: it copies and re-indexes the WARC (three passes and a
warcio parse); building a 1 GB package that way takes a minute, most of it not under test.
The layout written here is the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD_PAYLOAD = 1024 * 1024
_POOL_SIZE = 16 * 1024 * 1024


def _gz(data: bytes) -> bytes:
    """One gzip member at level 0 (stored blocks): random data does not compress anyway."""
    c = zlib.compressobj(0, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(block)}\r\n\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _HashingWriter:
    def __init__(self, dst: Any) -> None:
        self.dst = dst
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.dst.write(data)
        self.hash.update(data)
        self.size += len(data)


def build_big_package(
    out: Path,
    target_bytes: int,
    *,
    sign: Callable[..., dict[str, Any]] | None,
    record_payload: int = RECORD_PAYLOAD,
) -> dict[str, Any]:
    """Write a signed WACZ of about ``target_bytes`` at ``out``; returns a few facts."""
    pool = os.urandom(_POOL_SIZE)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S")
    warc_date = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    resources: list[dict[str, Any]] = []
    cdx: list[str] = []
    records = max(1, target_bytes // record_payload)
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        info = zipfile.ZipInfo("archive/data.warc.gz", now.timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        with zf.open(info, "w", force_zip64=target_bytes > (1 << 31) - (1 << 26)) as raw:
            warc = _HashingWriter(raw)
            info_block = b"software: evidence-service big-package builder\r\nformat: WARC/1.1\r\n"
            warc.write(
                _gz(
                    _record(
                        [
                            ("WARC-Type", "warcinfo"),
                            ("WARC-Record-ID", "<urn:uuid:00000000-0000-4000-8000-000000000000>"),
                            ("WARC-Date", warc_date),
                            ("Content-Type", "application/warc-fields"),
                            ("WARC-Block-Digest", _sha(info_block)),
                        ],
                        info_block,
                    )
                )
            )
            for i in range(records):
                start = (i * 7919 * 4099) % (_POOL_SIZE - record_payload)
                payload = pool[start : start + record_payload]
                url = f"https://shop.example.com/blob/{i}.bin"
                http = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n"
                ).encode("ascii")
                block = http + payload
                rec = _gz(
                    _record(
                        [
                            ("WARC-Type", "response"),
                            ("WARC-Record-ID", f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>"),
                            ("WARC-Date", warc_date),
                            ("WARC-Target-URI", url),
                            ("Content-Type", "application/http; msgtype=response"),
                            ("WARC-Payload-Digest", _sha(payload)),
                            ("WARC-Block-Digest", _sha(block)),
                        ],
                        block,
                    )
                )
                cdx.append(
                    f"com,example,shop)/blob/{i}.bin {stamp} "
                    + json.dumps(
                        {
                            "url": url,
                            "mime": "application/octet-stream",
                            "status": "200",
                            "digest": _sha(payload),
                            "length": str(len(rec)),
                            "offset": str(warc.size),
                            "filename": "data.warc.gz",
                        }
                    )
                )
                warc.write(rec)
        resources.append(
            {
                "name": "data.warc.gz",
                "path": "archive/data.warc.gz",
                "hash": "sha256:" + warc.hash.hexdigest(),
                "bytes": warc.size,
            }
        )

        def add(name: str, data: bytes) -> None:
            zf.writestr(
                zipfile.ZipInfo(name, now.timetuple()[:6]), data, compress_type=zipfile.ZIP_DEFLATED
            )
            resources.append(
                {
                    "name": name.rsplit("/", 1)[-1],
                    "path": name,
                    "hash": _sha(data),
                    "bytes": len(data),
                }
            )

        add("indexes/index.cdx", ("\n".join(sorted(cdx)) + "\n").encode())
        add(
            "pages/pages.jsonl",
            (
                json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "big"})
                + "\n"
                + json.dumps(
                    {
                        "id": "p1",
                        "url": "https://shop.example.com/blob/0.bin",
                        "ts": warc_date,
                        "title": "big",
                    }
                )
                + "\n"
            ).encode(),
        )
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = {
            "profile": "data-package",
            "resources": resources,
            "title": "big",
            "mainPageURL": "https://shop.example.com/blob/0.bin",
            "mainPageDate": warc_date,
            "created": created,
            "wacz_version": "1.1.1",
            "software": "evidence-service big-package builder",
        }
        datapackage = json.dumps(package, indent=2).encode()
        zf.writestr(
            zipfile.ZipInfo("datapackage.json", now.timetuple()[:6]),
            datapackage,
            compress_type=zipfile.ZIP_DEFLATED,
        )
        digest: dict[str, Any] = {"path": "datapackage.json", "hash": _sha(datapackage)}
        if sign is not None:
            digest["signedData"] = sign(digest["hash"], created=created)
        zf.writestr(
            zipfile.ZipInfo("datapackage-digest.json", now.timetuple()[:6]),
            json.dumps(digest, indent=2).encode(),
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return {"path": out, "size": out.stat().st_size, "records": records}
