""" "Capture again" from a case: the capture that is the case's evidence is captured again
with the same URL and settings, and the new capture is queued to become evidence too."""

from __future__ import annotations

from sqlalchemy import select, update

from storage.models import Capture, CaseCaptureRequest
from tests.cases.test_console import World, login, open_lead, world  # noqa: F401 -- fixture
from tests.portal.conftest import csrf_of


def test_capture_again_from_the_case_evidence(world: World) -> None:  # noqa: F811
    case_id = open_lead(world, "再次取证")
    wang = login(world, "wang")
    page = wang.get(f"/cases/{case_id}").text
    url = "http://127.0.0.1:9/shop/item/7"  # nothing is captured here: the rows are the test
    r = wang.post(
        f"/cases/{case_id}/capture",
        data={"csrf": csrf_of(page), "url": url},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with world.services.sessions() as session:
        first = session.scalars(
            select(CaseCaptureRequest.capture_id).where(CaseCaptureRequest.case_id == case_id)
        ).one()
    with world.services.session() as session:
        session.execute(
            update(Capture)
            .where(Capture.id == first)
            .values(status="stored", package_sha256="cd" * 32, package_size=10)
        )
        cap = session.get(Capture, first)
        assert cap is not None
        cap.options = {**cap.options, "viewport": [800, 600], "user_agent": "UA/1"}
    assert wang.get(f"/cases/{case_id}/captures.json").json() == {"pending": []}  # linked

    page = wang.get(f"/cases/{case_id}").text
    evidence = page.split('id="evidence-list"')[1].split("</table>")[0]
    action = f'action="/cases/{case_id}/recapture/{first}"'
    assert action in evidence and "再次取证" in evidence
    r = wang.post(
        f"/cases/{case_id}/recapture/{first}",
        data={"csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=capture#evidence")
    with world.services.sessions() as session:
        queued = session.scalars(
            select(CaseCaptureRequest.capture_id).where(
                CaseCaptureRequest.case_id == case_id, CaseCaptureRequest.capture_id != first
            )
        ).all()
        assert len(queued) == 1
        again = session.get(Capture, queued[0])
        assert again is not None
        assert again.requested_url == url and again.status == "queued"
        # the same settings as the capture it repeats, not the service's current ones
        assert again.options["viewport"] == [800, 600] and again.options["user_agent"] == "UA/1"
        assert again.options["recapture_of"] == first

    # only the case's own evidence can be captured again from the case
    page = wang.get(f"/cases/{case_id}").text
    r = wang.post(f"/cases/{case_id}/recapture/{'0' * 32}", data={"csrf": csrf_of(page)})
    assert r.status_code == 422 and "not_evidence" in r.text
