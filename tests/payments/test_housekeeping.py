"""The running service issues the payment notice once a fine's decision is served (the
worker's housekeeping, nobody has to remember), and the party finds its payment number, with
the link to pay online, in the portal's case list."""

from __future__ import annotations

from sqlalchemy import select

from evidence_service.sealing import housekeeping
from storage.models import CaseEvent, PaymentNotice, User
from tests.payments.conftest import CREDIT_CODE, Live, csrf_of, served_fine
from tests.portal.conftest import PASSWORD, setup_merchant
from workflow import payments
from workflow.context import OfficerRef


def test_housekeeping_issues_the_notice_and_the_portal_links_the_payment(live: Live) -> None:
    with live.services.session() as session:
        wang = session.get(User, live.ids["wang"])
        assert wang is not None
        officer = OfficerRef(wang.id, wang.username, wang.display_name, wang.unit_id, False)
    merchant_id = setup_merchant(live.pay.portal, officer, "深圳某某电子商务有限公司", CREDIT_CODE)
    case_id = served_fine(live, merchant_id=merchant_id)
    with live.services.session() as session:
        assert session.scalar(select(PaymentNotice).where(PaymentNotice.case_id == case_id)) is None

    housekeeping.periodic(live.services)
    housekeeping.periodic(live.services)  # again: still one notice, one event

    with live.services.session() as session:
        notices = list(
            session.scalars(select(PaymentNotice).where(PaymentNotice.case_id == case_id))
        )
        events = list(
            session.scalars(
                select(CaseEvent.action).where(
                    CaseEvent.case_id == case_id, CaseEvent.action == payments.NOTICE_ISSUED
                )
            )
        )
    assert len(notices) == 1 and len(events) == 1
    number = notices[0].number

    with live.client() as client:
        page = client.get("/portal/login")
        reply = client.post(
            "/portal/login",
            data={"credit_code": CREDIT_CODE, "password": PASSWORD, "csrf": csrf_of(page.text)},
        )
        assert reply.status_code == 303, reply.text
        listing = client.get("/portal/cases", headers={"Accept-Language": "zh"})
        assert listing.status_code == 200
        assert f'href="/pay/{number}"' in listing.text
        pay = client.get(f"/pay/{number}")
        assert pay.status_code == 200 and "2000.00" in pay.text
