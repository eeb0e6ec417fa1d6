"""The facts an electronic-data extraction record (电子数据证据提取笔录) states, read from a
sealed capture package (WACZ, ``docs/evidence-package.md``).

Why from the package and not from the database: the package is what goes to court and what
``evidence verify`` checks, so the record must state *its* hashes and *its* trusted time --
the manifest's RFC 3161 token (genTime), the SHA-256 of every listed file, of the manifest
and of the package file itself. The package file is hashed as a stream (packages can be
large); only the small JSON members and the token are read from the ZIP.

This reads; it does not judge. The record says how the package can be verified
(``evidence verify``), and a court does that itself.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from signing.errors import TimestampError
from signing.timestamp import read_timestamp

__all__ = ["CaptureFactsError", "capture_facts"]

MAX_MEMBER = 16 * 1024 * 1024


class CaptureFactsError(ValueError):
    """The package is not a sealed capture package this service made (or is damaged)."""


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CaptureFactsError(f"the package has no {name}; is it a sealed capture?") from None
    if info.file_size > MAX_MEMBER:
        raise CaptureFactsError(f"{name} in the package is implausibly large")
    return zf.read(info)


def _utc(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))


def _title(zf: zipfile.ZipFile) -> str | None:
    try:
        lines = _member(zf, "pages/pages.jsonl").decode("utf-8").splitlines()
    except (CaptureFactsError, UnicodeDecodeError):
        return None
    for line in lines[1:]:
        try:
            page = json.loads(line)
        except ValueError:
            continue
        if isinstance(page, dict) and page.get("title"):
            return str(page["title"])[:1000]
    return None


def capture_facts(package: Path) -> dict[str, Any]:
    """The ``capture`` object of an ``evidence_extraction_record`` (JSON values) for the
    sealed package at ``package``. Raises :class:`CaptureFactsError`."""
    package = Path(package)
    digest = hashlib.sha256()
    size = 0
    try:
        with package.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        zf = zipfile.ZipFile(package)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CaptureFactsError(f"{package}: not a readable package ({exc})") from None
    with zf:
        manifest_bytes = _member(zf, "files/manifest.json")
        token_der = _member(zf, "files/manifest.tsr")
        title = _title(zf)
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise CaptureFactsError(f"files/manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("type") != "evidence-capture-manifest":
        raise CaptureFactsError("files/manifest.json is not a capture manifest")
    try:
        token = read_timestamp(token_der)
    except TimestampError as exc:
        raise CaptureFactsError(f"files/manifest.tsr: {exc}") from None
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise CaptureFactsError("files/manifest.json lists no files")
    return {
        "package_id": str(manifest.get("capture_id") or ""),
        "requested_url": str(manifest.get("requested_url") or ""),
        "final_url": manifest.get("final_url"),
        "title": title,
        "http_status": manifest.get("http_status"),
        "capture_started": manifest.get("capture_started"),
        "capture_ended": manifest.get("capture_ended"),
        "trusted_time": _utc(token.gen_time),
        "tsa": token.tsa_name,
        "tsa_serial": format(token.serial, "x"),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "package_sha256": digest.hexdigest(),
        "package_size": size,
        "package_name": package.name,
        "files": {str(k): str(v) for k, v in files.items()},
    }
