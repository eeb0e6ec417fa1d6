"""The certificate, manifest and proofs as downloads, the capture page, the public
verification page behind the QR code, and the log API -- over real HTTP on the served app."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import update

from evidence_service.security import hash_password, hash_token, new_api_token
from signing.translog import (
    leaf_hash,
    verify_consistency_proof,
    verify_inclusion_proof,
    verify_tree_head,
)
from storage.models import ApiToken, Capture, User
from tests.seal.conftest import Sealed

pytestmark = pytest.mark.chromium


def _token(sealed: Sealed, role: str) -> str:
    token = new_api_token()
    with sealed.services.session() as session:
        user = User(
            username=f"{role}-{token[:6]}",
            display_name=role,
            password_hash=hash_password("irrelevant password"),
            role=role,
            must_change_password=False,
            disabled=False,
        )
        session.add(user)
        session.flush()
        session.add(
            ApiToken(user_id=user.id, name="t", token_hash=hash_token(token), revoked=False)
        )
    return token


def test_certificate_and_manifest_are_downloads_and_on_the_capture_page(sealed: Sealed) -> None:
    headers = {"Authorization": f"Bearer {_token(sealed, 'officer')}"}
    cid = sealed.record["id"]
    record = requests.get(f"{sealed.app_url}/api/captures/{cid}", headers=headers).json()
    cert = requests.get(record["files"]["certificate"]["url"], headers=headers)
    assert cert.status_code == 200 and cert.headers["content-type"] == "application/pdf"
    assert cert.content == sealed.certificate.read_bytes()
    assert "certificate.pdf" in cert.headers["content-disposition"]
    manifest = requests.get(record["files"]["manifest"]["url"], headers=headers)
    assert manifest.content == sealed.file("files/manifest.json")
    page = requests.get(f"{sealed.app_url}/captures/{cid}", headers=headers)
    assert page.status_code == 200
    assert f"/api/captures/{cid}/files/certificate" in page.text
    assert sealed.record["log_entry"]["leaf_hash"] in page.text
    assert sealed.record["verify_url"].removeprefix(sealed.app_url) in page.text


def test_publication_gives_the_capture_its_proof_and_the_public_page_shows_it(
    sealed: Sealed,
) -> None:
    root_pem = sealed.services.pki.root.public_bytes(Encoding.PEM)
    url = sealed.app_url
    verify_url = sealed.record["verify_url"]
    entry = sealed.record["log_entry"]
    manifest_digest = hashlib.sha256(sealed.file("files/manifest.json")).digest()

    # No login needed for the page, the log and its proofs.
    page = requests.get(verify_url)
    assert page.status_code == 200, page.text
    for fact in (
        sealed.record["requested_url"],
        sealed.record["manifest_sha256"],
        entry["leaf_hash"],
        entry["log_id"],
    ):
        assert fact in page.text
    code = verify_url.rsplit("/", 1)[1]
    assert f"/v/{code}/screenshot" in page.text  # not an authenticated capture: thumbnail shown
    info = requests.get(f"{url}/api/log").json()
    assert info["log_id"] == entry["log_id"] and info["tree_size"] >= 1

    # Publishing on demand: refused anonymously, allowed with an API token.
    assert requests.get(f"{url}/api/log/sth", params={"publish": 1}).status_code == 403
    sth = requests.get(
        f"{url}/api/log/sth",
        params={"publish": 1},
        headers={"Authorization": f"Bearer {_token(sealed, 'officer')}"},
    ).json()
    head = verify_tree_head(sth, root_pem, log_id=entry["log_id"])
    assert head.tree_size > entry["leaf_index"]
    assert requests.get(f"{url}/api/log/sth").json() == sth
    assert requests.get(f"{url}/api/log/sth/{head.tree_size}").json() == sth

    # The inclusion proof, from the API and from the page's JSON, proves the package's manifest.
    proof = requests.get(
        f"{url}/api/log/proof/inclusion", params={"leaf_hash": entry["leaf_hash"]}
    ).json()
    verify_inclusion_proof(proof, root_pem, leaf=leaf_hash(manifest_digest))
    assert requests.get(f"{verify_url}/proof.json").json() == proof
    assert (
        requests.get(f"{url}/api/log/entries/{entry['leaf_index']}").json()["leaf_hash"]
        == (entry["leaf_hash"])
    )
    assert f"{head.tree_size}" in requests.get(verify_url).text

    # The publication wrote the capture's proofs sidecar (a new object), downloadable.
    headers = {"Authorization": f"Bearer {_token(sealed, 'officer')}"}
    record = requests.get(f"{url}/api/captures/{sealed.record['id']}", headers=headers).json()
    sidecar_resp = requests.get(record["files"]["proofs"]["url"], headers=headers)
    assert sidecar_resp.status_code == 200
    assert sidecar_resp.headers["content-disposition"].endswith('.wacz.proofs.json"')
    sidecar = sidecar_resp.json()
    assert sidecar["type"] == "evidence-proofs" and sidecar["version"] == 1
    assert sidecar["package_sha256"] == hashlib.sha256(sealed.package.read_bytes()).hexdigest()
    verify_inclusion_proof(sidecar["inclusion"], root_pem, leaf=leaf_hash(manifest_digest))
    assert sidecar["archive_timestamps"] == []

    # Public files of a capture made without a login; hidden once it counts as authenticated.
    shot = requests.get(f"{url}/v/{code}/screenshot")
    assert shot.status_code == 200 and shot.content[:4] == b"\x89PNG"
    assert (
        requests.get(f"{url}/v/{code}/certificate.pdf").content == sealed.certificate.read_bytes()
    )
    with sealed.services.session() as session:
        session.execute(
            update(Capture).where(Capture.id == sealed.record["id"]).values(authenticated=True)
        )
    try:
        private = requests.get(verify_url)
        assert private.status_code == 200
        assert f"/v/{code}/screenshot" not in private.text
        assert sealed.record["title"] not in private.text
        assert sealed.record["manifest_sha256"] in private.text
        assert requests.get(f"{url}/v/{code}/screenshot").status_code == 403
        assert requests.get(f"{url}/v/{code}/certificate.pdf").status_code == 403
        facts = requests.get(f"{verify_url}/facts.json").json()
        assert facts["title"] is None and "screenshot_url" not in facts
    finally:
        with sealed.services.session() as session:
            session.execute(
                update(Capture).where(Capture.id == sealed.record["id"]).values(authenticated=False)
            )
    assert requests.get(f"{url}/v/nosuchcode").status_code == 404
    assert json.loads(requests.get(f"{url}/api/log/entries/999999").text)["detail"]["code"] == (
        "not_found"
    )


def test_log_commands(sealed: Sealed) -> None:
    from tests.conftest import run_cli

    root_pem = sealed.services.pki.root.public_bytes(Encoding.PEM)
    published = run_cli(["log", "sth", "--publish"], sealed.env)
    assert published.returncode == 0, published.stderr
    sth = json.loads(published.stdout)
    verify_tree_head(sth, root_pem)
    latest = json.loads(run_cli(["log", "sth"], sealed.env).stdout)
    assert latest == sth
    proof = run_cli(["log", "proof", "--capture", sealed.record["id"]], sealed.env)
    assert proof.returncode == 0, proof.stderr
    manifest_digest = hashlib.sha256(sealed.file("files/manifest.json")).digest()
    verify_inclusion_proof(json.loads(proof.stdout), root_pem, leaf=leaf_hash(manifest_digest))
    size = str(sth["tree_size"])
    consistency = run_cli(["log", "proof", "--first", size, "--second", size], sealed.env)
    assert consistency.returncode == 0, consistency.stderr
    verify_consistency_proof(json.loads(consistency.stdout), root_pem)
    audit = run_cli(["log", "audit"], sealed.env)
    assert audit.returncode == 0 and "matches every published tree head" in audit.stdout
    info = json.loads(run_cli(["log", "info"], sealed.env).stdout)
    assert info["log_id"] == sealed.record["log_entry"]["log_id"]
    missing = run_cli(["log", "proof", "--leaf-hash", "ab" * 32], sealed.env)
    assert missing.returncode != 0 and "no log entry" in missing.stderr


def test_the_certificate_s_qr_code_decodes_to_the_public_page(
    sealed: Sealed, tmp_path: Path
) -> None:
    """Scan the printed QR code as a phone would (zbar on the rendered page, an independent
    decoder) and follow it: it must lead to this capture's public verification page."""
    for tool in ("pdftoppm", "zbarimg"):
        assert shutil.which(tool), f"{tool} missing: run scripts/setup.sh --test"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", str(sealed.certificate), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    decoded: list[str] = []
    for png in sorted(tmp_path.glob("page*.png")):
        proc = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        decoded += [line for line in proc.stdout.splitlines() if line]
    assert decoded == [sealed.record["verify_url"]]
    page = requests.get(decoded[0])
    assert page.status_code == 200
    assert sealed.record["manifest_sha256"] in page.text
