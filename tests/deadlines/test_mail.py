"""Deadline reminder mails through a real SMTP server (aiosmtpd on 127.0.0.1): recipients,
subject and body as received; STARTTLS with login; clear errors when the server is down,
refuses a login or a recipient."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from evidence_service.cli.cases import smtp_settings
from evidence_service.config import Settings
from tests.fixtures.http_tsa import free_port
from workflow.deadlines import due
from workflow.mail import (
    InvalidRecipientError,
    MailError,
    Reminder,
    ReminderDeliveryError,
    SmtpSettings,
    SmtpUnavailableError,
    reminder_for,
    send_reminders,
)

from .conftest import SmtpServer

PASSWORD = "correct horse battery staple"


def reminders() -> list[Reminder]:
    return [
        Reminder("li.officer@example.org", "示市监处罚〔2026〕12号", "作出处理决定",
                 "Decision (general procedure)", date(2026, 4, 7), 3),
        Reminder("Li.Officer@example.org", "示市监处罚〔2026〕7号", "缴纳罚款", "Pay the fine",
                 date(2026, 4, 2), -2),
        Reminder("wang@example.org", "示市监处罚〔2026〕12号", "行政处罚信息公示",
                 "Publish the decision", date(2026, 4, 4), 0),
    ]  # fmt: skip


def plain(server: SmtpServer, **changes: Any) -> SmtpSettings:
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "starttls": False,
        "from_addr": "deadlines@unit.example.org",
    }
    options.update(changes)
    return SmtpSettings(**options)


def test_one_mail_per_recipient_in_chinese_and_english(smtp_server: SmtpServer) -> None:
    sent = send_reminders(reminders(), plain(smtp_server))
    assert [(s.recipient, s.reminders) for s in sent] == [
        ("li.officer@example.org", 2),
        ("wang@example.org", 1),
    ]
    received = smtp_server.handler.messages
    assert [r.rcpt_tos for r in received] == [["li.officer@example.org"], ["wang@example.org"]]
    assert all(r.mail_from == "deadlines@unit.example.org" for r in received)
    li, wang = (r.message for r in received)
    assert li["Subject"] == "期限提醒：2 项案件期限 / Deadline reminder: 2 case deadlines"
    # a long Message-ID comes back folded (RFC 5322 §2.2.3): its value is the same unfolded
    assert li["To"] == "li.officer@example.org"
    assert li["Message-ID"].strip() == sent[0].message_id
    text = li.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # sorted by due date: the overdue payment first
    first, second = text.index("缴纳罚款"), text.index("作出处理决定")
    assert first < second
    assert "案件 示市监处罚〔2026〕7号「缴纳罚款」：2026-04-02（星期四）到期，已逾期 2 天" in text
    assert "2026-04-07（星期二）到期，剩余 3 天" in text
    assert (
        "Case 示市监处罚〔2026〕7号, Pay the fine: due 2026-04-02 (Thursday), overdue by 2 days"
        in text
    )
    assert "Decision (general procedure): due 2026-04-07 (Tuesday), 3 days left" in text
    html = li.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<td>示市监处罚〔2026〕7号</td>" in html and "已逾期 2 天 / overdue by 2 days" in html
    assert wang["Subject"] == (
        "期限提醒：案件 示市监处罚〔2026〕12号「行政处罚信息公示」今天到期 / "
        "Deadline reminder: case 示市监处罚〔2026〕12号, Publish the decision, due today"
    )


def test_plain_text_only_when_asked(smtp_server: SmtpServer) -> None:
    send_reminders(reminders()[2:], plain(smtp_server), with_html=False)
    message = smtp_server.handler.messages[0].message
    assert not message.is_multipart() and message.get_content_type() == "text/plain"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test SMTP server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path, start_smtp: Callable[..., SmtpServer]) -> tuple[SmtpServer, Path]:
    """A server that requires STARTTLS, then a login (officer / PASSWORD)."""
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    logins: list[bytes] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"officer",
            PASSWORD.encode(),
        )
        logins.append(data.login if isinstance(data, LoginPassword) else b"?")
        return AuthResult(success=ok, handled=False)

    server = start_smtp(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    server.handler.logins = logins  # type: ignore[attr-defined]
    return server, cert


def test_starttls_and_login_with_the_servers_certificate(
    tls_server: tuple[SmtpServer, Path],
) -> None:
    server, cert = tls_server
    settings = plain(server, starttls=True, user="officer", password=PASSWORD, ca_file=cert)
    sent = send_reminders(reminders()[2:], settings)
    assert [s.recipient for s in sent] == ["wang@example.org"]
    assert server.handler.logins == [b"officer"]  # type: ignore[attr-defined]
    assert server.handler.messages[0].rcpt_tos == ["wang@example.org"]


def test_an_untrusted_certificate_is_refused(tls_server: tuple[SmtpServer, Path]) -> None:
    server, _ = tls_server
    settings = plain(server, starttls=True, user="officer", password=PASSWORD)
    with pytest.raises(MailError, match=r"STARTTLS with 127\.0\.0\.1:\d+ failed") as caught:
        send_reminders(reminders()[2:], settings)
    assert PASSWORD not in str(caught.value)
    assert server.handler.messages == []


def test_a_refused_login_says_which_settings_to_check(tls_server: tuple[SmtpServer, Path]) -> None:
    server, cert = tls_server
    settings = plain(server, starttls=True, user="officer", password="wrong", ca_file=cert)
    with pytest.raises(MailError, match="refused the login of 'officer'") as caught:
        send_reminders(reminders()[2:], settings)
    assert "wrong" not in str(caught.value) and "EVIDENCE_SMTP_PASSWORD" in str(caught.value)
    assert server.handler.messages == []


def test_a_server_that_is_down_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    settings = SmtpSettings("127.0.0.1", port, starttls=False, user="u", password=PASSWORD)
    with pytest.raises(SmtpUnavailableError) as caught:
        send_reminders(reminders(), settings)
    message = str(caught.value)
    assert message.startswith(f"cannot reach the SMTP server 127.0.0.1:{port}")
    assert "EVIDENCE_SMTP_HOST" in message and "try again later" in message
    assert PASSWORD not in message and PASSWORD not in repr(settings)


def test_a_refused_recipient_does_not_stop_the_others(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse.add("li.officer@example.org")
    with pytest.raises(ReminderDeliveryError) as caught:
        send_reminders(reminders(), plain(smtp_server))
    assert list(caught.value.failed) == ["li.officer@example.org"]
    assert "550" in caught.value.failed["li.officer@example.org"]
    assert [s.recipient for s in caught.value.sent] == ["wang@example.org"]
    assert [r.rcpt_tos for r in smtp_server.handler.messages] == [["wang@example.org"]]


@pytest.mark.parametrize(
    "address",
    ["wang@example.org\r\nBcc: all@example.org", "Wang <wang@example.org>", "wang", "a b@x.org"],
)
def test_a_recipient_that_is_not_a_plain_address_is_refused_before_connecting(
    address: str,
) -> None:
    bad = Reminder(address, "1", "期限", "Deadline", date(2026, 4, 7), 1)
    down = SmtpSettings("127.0.0.1", free_port(), starttls=False)
    with pytest.raises(InvalidRecipientError, match="not a plain e-mail address"):
        send_reminders([*reminders(), bad], down)


def test_the_password_is_not_sent_unencrypted_to_a_remote_server() -> None:
    settings = SmtpSettings("smtp.example.org", 25, starttls=False, user="u", password=PASSWORD)
    with pytest.raises(MailError, match="unencrypted: set EVIDENCE_SMTP_STARTTLS=true"):
        send_reminders(reminders(), settings)


def test_a_reminder_of_a_computed_deadline(smtp_server: SmtpServer) -> None:
    deadline = due("decision", date(2026, 1, 5), today=date(2026, 4, 4))
    reminder = reminder_for("wang@example.org", "示市监处罚〔2026〕12号", deadline)
    assert (reminder.due_date, reminder.days_left) == (date(2026, 4, 7), 3)
    assert reminder.deadline_name_zh == "作出处理决定（普通程序）"
    send_reminders([reminder], plain(smtp_server))
    assert "剩余 3 天" in str(smtp_server.handler.messages[0].message["Subject"])
    unknown = due("complaint_acceptance", date(2026, 12, 24), today=date(2026, 12, 24))
    if unknown.due_date is None:
        with pytest.raises(MailError, match="not known yet"):
            reminder_for("wang@example.org", "1", unknown)


def test_smtp_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "EVIDENCE_SMTP_HOST": "smtp.unit.example.org",
        "EVIDENCE_SMTP_PORT": "2525",
        "EVIDENCE_SMTP_STARTTLS": "false",
        "EVIDENCE_SMTP_USER": "officer",
        "EVIDENCE_SMTP_PASSWORD": PASSWORD,
        "EVIDENCE_SMTP_FROM": "deadlines@unit.example.org",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    smtp = smtp_settings(settings)
    assert (smtp.host, smtp.port, smtp.starttls, smtp.user) == (
        "smtp.unit.example.org",
        2525,
        False,
        "officer",
    )
    assert smtp.password == PASSWORD and PASSWORD not in repr(smtp)
    assert smtp.from_addr == "deadlines@unit.example.org"
