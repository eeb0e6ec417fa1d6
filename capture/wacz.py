"""Package a finished capture as WACZ 1.1.1 (Webrecorder), streaming, never half-written.

Layout of the package (a ZIP; the order matters, see below)::

    archive/data.warc.gz          the capture's WARC as written (gzip per record), stored
    indexes/index.cdx             CDXJ index (cdxj-indexer), sorted
    pages/pages.jsonl             json-pages-1.0 header + the captured page
    files/screenshot.png          the screenshot, PDF and provenance again as plain files, so
    files/page.pdf                that a court can open them without a WARC reader (they are
    files/provenance.json         also resource records in the WARC)
    files/video.webm              the session video, when one was recorded (also a record)
    files/...                     ``extra_files`` (e.g. files/provenance.html)
    datapackage.json              Frictionless data package: sha256 + size of every file
    datapackage-digest.json       sha256 of datapackage.json and its ``signedData``

Why these details:

* WARCs, images and PDFs are ZIP_STORED: replay tools read WARC records at the CDXJ offsets
  straight out of the ZIP. Text files are deflated.
* ``datapackage-digest.json`` is the last entry: Harvard LIL's ``wacz-signing`` verifier reads
  whichever entry comes last in the ZIP directory, believing it to be the digest.
* Every file sits exactly one folder deep: py-wacz's validator matches files to datapackage
  resources by their last two path components only.
* ``datapackage.json``'s ``created`` is passed to the signer, which must put the same string in
  ``signedData.created`` (py-wacz's validator compares them).
* Large packages: each file is copied in 1 MiB blocks and hashed on the way; the ZIP uses
  ZIP64 when needed. The package is built in a temporary file next to ``out_path`` and renamed
  only once complete, so a failure (a TSA that is down, a full disk) leaves no package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

from cdxj_indexer import CDXJIndexer

from .types import CaptureResult

__all__ = [
    "WACZ_VERSION",
    "SignFunction",
    "WaczError",
    "WaczInfo",
    "build_wacz",
    "index_warc",
    "pages_jsonl",
]

log = logging.getLogger(__name__)

WACZ_VERSION = "1.1.1"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
_RESERVED = {WARC_PATH, INDEX_PATH, PAGES_PATH, DATAPACKAGE, DIGEST}
_BLOCK = 1024 * 1024
_NAME_RE = re.compile(r"[^-a-z0-9._/]")
_STORED_SUFFIXES = (".gz", ".png", ".jpg", ".jpeg", ".webp", ".pdf", ".zip", ".mp4", ".webm")


class WaczError(ValueError):
    """The package cannot be built from these inputs (missing file, bad path, bad signer)."""


class SignFunction(Protocol):
    """Signs ``"sha256:<hex of datapackage.json>"``; returns the WACZ ``signedData``, whose
    ``hash`` and ``created`` must equal the given ones (e.g. ``PackageSigner.sign``)."""

    def __call__(self, hash_str: str, *, created: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WaczInfo:
    path: Path
    #: Hex SHA-256 of the whole .wacz file.
    sha256: str
    size: int
    #: datapackage.json resources: name, path, hash ("sha256:..."), bytes.
    resources: tuple[dict[str, Any], ...]
    #: Hex SHA-256 of datapackage.json (what the signature covers, with a "sha256:" prefix).
    datapackage_sha256: str
    signed_data: dict[str, Any] | None


class _HashingReader:
    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data


def _check_zip_path(path: str) -> str:
    p = PurePosixPath(path)
    if (
        p.is_absolute()
        or len(p.parts) != 2
        or any(part in ("", ".", "..") for part in p.parts)
        or "\\" in path
        or str(p) != path
    ):
        raise WaczError(
            f"extra file path {path!r} must be 'folder/name' (exactly one folder deep: py-wacz's "
            "validator only understands such paths)"
        )
    if path in _RESERVED:
        raise WaczError(f"{path!r} is written by build_wacz itself")
    return path


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    m = moment.astimezone(UTC)
    return (max(m.year, 1980), m.month, m.day, m.hour, m.minute, m.second)


class _PackageWriter:
    """Adds entries to the ZIP and records their datapackage resources."""

    def __init__(self, zf: zipfile.ZipFile, when: datetime) -> None:
        self.zf = zf
        self.date_time = _zip_time(when)
        self.resources: list[dict[str, Any]] = []
        self._names: set[str] = set()

    def _info(self, arcname: str, size: int, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, self.date_time)
        info.file_size = size  # lets zipfile choose ZIP64 up front for big files
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def _resource(self, arcname: str, digest: str, size: int) -> None:
        base = _NAME_RE.sub("-", PurePosixPath(arcname).name.lower())
        name = base if base not in self._names else _NAME_RE.sub("-", arcname.lower())
        self._names.add(name)
        resource: dict[str, Any] = {
            "name": name,
            "path": arcname,
            "hash": f"sha256:{digest}",
            "bytes": size,
        }
        if arcname.lower().endswith(".json"):
            # Frictionless (behind `wacz validate`) infers JSON files as a "Document" resource it
            # cannot validate and fails the whole package; declared plain files it checks by
            # hash and size like every other resource.
            resource["type"] = "file"
        self.resources.append(resource)

    def add_file(self, arcname: str, source: Path, *, compress: bool | None = None) -> None:
        if compress is None:
            compress = not arcname.lower().endswith(_STORED_SUFFIXES)
        size = source.stat().st_size
        with (
            source.open("rb") as src,
            self.zf.open(self._info(arcname, size, compress), "w") as dst,
        ):
            reader = _HashingReader(src)
            while block := reader.read(_BLOCK):
                dst.write(block)
        if reader.size != size:
            raise WaczError(f"{source} changed size while being packaged")
        self._resource(arcname, reader.hash.hexdigest(), reader.size)

    def add_bytes(self, arcname: str, data: bytes, *, resource: bool = True) -> None:
        with self.zf.open(self._info(arcname, len(data), True), "w") as dst:
            dst.write(data)
        if resource:
            self._resource(arcname, hashlib.sha256(data).hexdigest(), len(data))


def index_warc(warc: Path, out: Path) -> None:
    """Sorted CDXJ of the WARC, with POST bodies appended to the key (so POSTs replay): what
    ``build_wacz`` packages as ``indexes/index.cdx`` (made ahead, pass it as ``index=``)."""
    indexer = CDXJIndexer(
        output=str(out),
        inputs=[str(warc)],
        sort=True,
        post_append=True,
        filename=PurePosixPath(WARC_PATH).name,
        fields="referrer",
    )
    indexer.process_all()


def _page_timestamp(index: Path, url: str) -> str | None:
    """The 14-digit timestamp of the page's response in the index (what replay looks up)."""
    best: str | None = None
    with index.open("r", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ", 2)
            if len(parts) < 3:
                continue
            try:
                fields = json.loads(parts[2])
            except ValueError:
                continue
            if (
                fields.get("url") == url
                and fields.get("mime") != "warc/revisit"
                and "status" in fields
                and (best is None or parts[1] < best)
            ):
                best = parts[1]
    return best


def _iso_from_14(ts: str) -> str:
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def _page_date(result: CaptureResult, index: Path) -> str:
    page_ts = _page_timestamp(index, result.final_url)
    if page_ts:
        return _iso_from_14(page_ts)
    return result.started_at.astimezone(UTC).strftime(CREATED_FORMAT)


def pages_jsonl(
    result: CaptureResult, index: Path, *, page_id: str, title: str | None = None
) -> bytes:
    """The bytes of ``pages/pages.jsonl`` that :func:`build_wacz` writes for the same
    ``result``, ``index``, ``page_id`` and ``title``: known before packaging, so that a
    manifest made beforehand can list (and time-stamp) it."""
    return _pages(result, _page_date(result, index), page_id, title)


def _pages(result: CaptureResult, page_date: str, page_id: str, title: str | None) -> bytes:
    page = {
        "id": page_id,
        "url": result.final_url,
        "ts": page_date,
        "title": result.title or result.final_url,
        "status": result.http_status,
    }
    header = {
        "format": "json-pages-1.0",
        "id": "pages",
        "title": title or result.title or result.final_url,
    }
    return (
        json.dumps(header, ensure_ascii=False) + "\n" + json.dumps(page, ensure_ascii=False) + "\n"
    ).encode("utf-8")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_wacz(
    result: CaptureResult,
    out_path: Path,
    *,
    sign: SignFunction | None,
    extra_files: Sequence[tuple[str, Path]] = (),
    title: str | None = None,
    description: str | None = None,
    software: str = "evidence-service",
    page_id: str | None = None,
    index: Path | None = None,
) -> WaczInfo:
    """Write ``result`` as a WACZ at ``out_path`` (replaced atomically) and return its facts.

    ``sign`` receives ``"sha256:" + hex(datapackage.json)`` and the package's ``created``;
    whatever it raises (e.g. a TSA that is down) propagates and no package is left behind.
    ``page_id``: the id of the page in ``pages/pages.jsonl`` (default: random), so that its
    bytes can be known beforehand (:func:`pages_jsonl`). ``index``: a CDXJ index of this
    WARC already made by :func:`index_warc`, packaged as it is instead of indexing again.
    """
    out_path = Path(out_path)
    warc = Path(result.warc_path)
    if not warc.is_file():
        raise WaczError(f"the capture's WARC {warc} does not exist")
    extras = [(_check_zip_path(arc), Path(src)) for arc, src in extra_files]
    for arc, src in extras:
        if not src.is_file():
            raise WaczError(f"extra file {src} (for {arc}) does not exist")
    if len({arc for arc, _ in extras}) != len(extras):
        raise WaczError("two extra files have the same path in the package")
    explicit = {arc for arc, _ in extras}
    derived: list[tuple[str, Path]] = []
    for arc, src in (
        (
            f"files/screenshot{Path(result.screenshot_path).suffix or '.png'}",
            result.screenshot_path,
        ),
        ("files/page.pdf", result.pdf_path),
        ("files/provenance.json", result.provenance_json_path),
        *([("files/video.webm", result.video_path)] if result.video_path else []),
    ):
        if arc in explicit:
            continue
        if Path(src).is_file():
            derived.append((arc, Path(src)))
        else:
            log.warning("capture output %s is missing; it is not added to the package", src)

    started_at = datetime.now(UTC)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    tmp_zip = work / "package.wacz"
    try:
        if index is None:
            index = work / "index.cdx"
            index_warc(warc, index)
        elif not Path(index).is_file():
            raise WaczError(f"the given CDXJ index {index} does not exist")
        page_date = _page_date(result, index)
        pages_title = title or result.title or result.final_url
        pages = _pages(result, page_date, page_id or uuid.uuid4().hex, title)

        with zipfile.ZipFile(tmp_zip, "w", allowZip64=True) as zf:
            writer = _PackageWriter(zf, started_at)
            writer.add_file(WARC_PATH, warc, compress=False)
            writer.add_file(INDEX_PATH, index, compress=True)
            writer.add_bytes(PAGES_PATH, pages)
            for arc, src in (*derived, *extras):
                writer.add_file(arc, src)

            # ``created`` is taken only now, after the (possibly long) copies: the signer
            # must time-stamp within minutes of it.
            created = datetime.now(UTC).strftime(CREATED_FORMAT)
            package: dict[str, Any] = {
                "profile": "data-package",
                "resources": writer.resources,
                "title": pages_title,
            }
            if description:
                package["description"] = description
            package.update(
                {
                    "mainPageURL": result.final_url,
                    "mainPageDate": page_date,
                    "created": created,
                    "wacz_version": WACZ_VERSION,
                    "software": software,
                }
            )
            datapackage = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
            dp_hex = hashlib.sha256(datapackage).hexdigest()
            hash_str = f"sha256:{dp_hex}"
            writer.add_bytes(DATAPACKAGE, datapackage, resource=False)

            signed: dict[str, Any] | None = None
            digest: dict[str, Any] = {"path": DATAPACKAGE, "hash": hash_str}
            if sign is not None:
                signed = sign(hash_str, created=created)
                if signed.get("hash") != hash_str or signed.get("created") != created:
                    raise WaczError(
                        "the signer returned signedData for another hash or creation time"
                    )
                digest["signedData"] = signed
            # Must stay the last entry (see the module docstring).
            writer.add_bytes(DIGEST, json.dumps(digest, indent=2).encode("utf-8"), resource=False)
        with tmp_zip.open("rb") as fh:
            os.fsync(fh.fileno())
            whole = hashlib.sha256()
            size = 0
            while block := fh.read(_BLOCK):
                whole.update(block)
                size += len(block)
        os.chmod(tmp_zip, 0o644)
        os.replace(tmp_zip, out_path)
        _fsync_dir(out_path.parent)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return WaczInfo(
        path=out_path,
        sha256=whole.hexdigest(),
        size=size,
        resources=tuple(dict(r) for r in writer.resources),
        datapackage_sha256=dp_hex,
        signed_data=signed,
    )
