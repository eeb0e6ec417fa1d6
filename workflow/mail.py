"""Deadline reminder mails, in Chinese and English, sent through the unit's SMTP server.

One mail per recipient, listing all of that person's reminders, so an officer with five
deadlines this week gets one mail, not five. The settings come in as a plain dataclass (this
package never reads the service's configuration); ``evidence_service.config`` holds the
``EVIDENCE_SMTP_*`` variables.

The password never appears in a log line, an exception message or the dataclass's repr, and
it is not sent over an unencrypted connection to anything but the local machine (a local
relay): set ``starttls`` for a remote server.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from workflow.deadlines import CHINA, Deadline

__all__ = [
    "InvalidRecipientError",
    "MailError",
    "Notice",
    "Reminder",
    "ReminderDeliveryError",
    "SentReminder",
    "SmtpSettings",
    "SmtpUnavailableError",
    "build_notice_message",
    "build_reminder_message",
    "reminder_for",
    "send_notices",
    "send_reminders",
]

log = logging.getLogger(__name__)
WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class MailError(Exception):
    """A reminder mail could not be sent; the message says what to check."""


class InvalidRecipientError(MailError, ValueError):
    """A recipient is not a plain e-mail address (refused before anything is sent)."""


class SmtpUnavailableError(MailError):
    """The SMTP server cannot be reached or dropped the connection (try again later)."""


class ReminderDeliveryError(MailError):
    """The server refused some recipients; ``sent`` holds the mails that did go out."""

    def __init__(self, failed: dict[str, str], sent: list[SentReminder]) -> None:
        listing = "; ".join(f"{addr}: {why}" for addr, why in failed.items())
        super().__init__(f"{len(failed)} reminder mail(s) refused by the SMTP server: {listing}")
        self.failed = failed
        self.sent = sent


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    from_addr: str = "evidence-service@localhost"
    #: Extra CA certificates (PEM) to trust for the server's STARTTLS certificate.
    ca_file: Path | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Reminder:
    recipient: str
    case_number: str
    deadline_name_zh: str
    deadline_name_en: str
    due_date: date
    days_left: int  # negative: overdue by that many days


@dataclass(frozen=True)
class SentReminder:
    recipient: str
    subject: str
    message_id: str
    reminders: int


def reminder_for(recipient: str, case_number: str, deadline: Deadline) -> Reminder:
    """A reminder of a computed deadline; refuses one whose due date is not known."""
    if deadline.due_date is None or deadline.days_left is None:
        raise MailError(
            f"no reminder for case {case_number}: the due date of "
            f"{deadline.rule_id or 'the period'} is not known yet "
            f"({deadline.unconfirmed_reason or 'suspended'})"
        )
    return Reminder(
        recipient,
        case_number,
        deadline.name_zh or "案件期限",
        deadline.name_en or "Case deadline",
        deadline.due_date,
        deadline.days_left,
    )


# -- the message ------------------------------------------------------------------------------


def _left_zh(days: int) -> str:
    if days > 0:
        return f"剩余 {days} 天"
    return "今天到期" if days == 0 else f"已逾期 {-days} 天"


def _left_en(days: int) -> str:
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} left"
    return "due today" if days == 0 else f"overdue by {-days} day{'s' if days != -1 else ''}"


def _line_zh(r: Reminder) -> str:
    due = f"{r.due_date.isoformat()}（{WEEKDAYS_ZH[r.due_date.weekday()]}）"
    return f"案件 {r.case_number}「{r.deadline_name_zh}」：{due}到期，{_left_zh(r.days_left)}"


def _line_en(r: Reminder) -> str:
    due = f"{r.due_date.isoformat()} ({WEEKDAYS_EN[r.due_date.weekday()]})"
    return f"Case {r.case_number}, {r.deadline_name_en}: due {due}, {_left_en(r.days_left)}"


def _subject(items: Sequence[Reminder]) -> str:
    if len(items) == 1:
        r = items[0]
        return (
            f"期限提醒：案件 {r.case_number}「{r.deadline_name_zh}」{_left_zh(r.days_left)} / "
            f"Deadline reminder: case {r.case_number}, {r.deadline_name_en}, "
            f"{_left_en(r.days_left)}"
        )
    return f"期限提醒：{len(items)} 项案件期限 / Deadline reminder: {len(items)} case deadlines"


def build_reminder_message(
    recipient: str, reminders: Sequence[Reminder], from_addr: str, *, with_html: bool = True
) -> EmailMessage:
    """The mail for one recipient: plain text (Chinese, then English), with an HTML
    alternative of the same content when ``with_html``."""
    items = sorted(reminders, key=lambda r: (r.due_date, r.case_number))
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = recipient
    msg["Subject"] = _subject(items)
    msg["Date"] = format_datetime(datetime.now(CHINA))
    domain = from_addr.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid("deadline", domain=domain)
    zh = "\n".join(f"- {_line_zh(r)}" for r in items)
    en = "\n".join(f"- {_line_en(r)}" for r in items)
    msg.set_content(
        "您好：\n\n以下案件期限即将到期或已经逾期，请及时处理：\n\n"
        f"{zh}\n\n本邮件由证据服务系统自动发送，请勿直接回复。\n\n"
        "----\n\n"
        "Hello,\n\nThe following case deadlines are due soon or overdue:\n\n"
        f"{en}\n\nThis mail was sent automatically by the evidence service; do not reply.\n"
    )
    if with_html:
        rows = "".join(
            "<tr><td>{case}</td><td>{zh}<br>{en}</td><td>{due}</td><td>{left}</td></tr>".format(
                case=html.escape(r.case_number),
                zh=html.escape(r.deadline_name_zh),
                en=html.escape(r.deadline_name_en),
                due=r.due_date.isoformat(),
                left=html.escape(f"{_left_zh(r.days_left)} / {_left_en(r.days_left)}"),
            )
            for r in items
        )
        msg.add_alternative(
            '<!doctype html><html lang="zh-CN"><body>'
            "<p>您好：以下案件期限即将到期或已经逾期，请及时处理。<br>"
            "Hello, the following case deadlines are due soon or overdue.</p>"
            '<table border="1" cellpadding="4" cellspacing="0">'
            "<tr><th>案件 Case</th><th>期限 Deadline</th><th>到期日 Due</th>"
            f"<th>剩余 Left</th></tr>{rows}</table>"
            "<p>本邮件由证据服务系统自动发送。Sent automatically by the evidence service.</p>"
            "</body></html>",
            subtype="html",
        )
    return msg


def _address(value: str) -> str:
    """A bare address, or :class:`InvalidRecipientError` (no display names, no line breaks:
    a recipient comes from case data and must not be able to add headers)."""
    name, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    plain = (
        not name
        and addr == value
        and bool(local)
        and ("." in domain or domain == "localhost")
        and not any(c.isspace() or c in '<>,;"' for c in value)
    )
    if not plain:
        raise InvalidRecipientError(f"not a plain e-mail address: {value!r}")
    return addr


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- sending ----------------------------------------------------------------------------------


def send_reminders(
    reminders: Iterable[Reminder], settings: SmtpSettings, *, with_html: bool = True
) -> list[SentReminder]:
    """Send one mail per recipient over one SMTP connection.

    Raises :class:`SmtpUnavailableError` when the server cannot be reached (nothing sent, or
    the mails listed in the message went out before it dropped), :class:`ReminderDeliveryError`
    when it refused some recipients (after trying every one), :class:`InvalidRecipientError`
    before connecting when a recipient is not an address, :class:`MailError` otherwise.
    """
    by_recipient: dict[str, list[Reminder]] = {}
    for reminder in reminders:
        by_recipient.setdefault(_address(reminder.recipient).lower(), []).append(reminder)
    mails = [
        (
            recipient,
            build_reminder_message(recipient, items, settings.from_addr, with_html=with_html),
            len(items),
        )
        for recipient, items in by_recipient.items()
    ]
    return _deliver(mails, settings, "deadline reminder")


@dataclass(frozen=True)
class Notice:
    """A short notice to one person (a watched page was found corrected, say): a subject
    and a plain-text body, both already in Chinese and English."""

    recipient: str
    subject: str
    body: str


def build_notice_message(notice: Notice, from_addr: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = _address(notice.recipient)
    msg["Subject"] = " ".join(notice.subject.split())  # one line: no header injection
    msg["Date"] = format_datetime(datetime.now(CHINA))
    domain = from_addr.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid("notice", domain=domain)
    msg.set_content(notice.body)
    return msg


def send_notices(notices: Iterable[Notice], settings: SmtpSettings) -> list[SentReminder]:
    """Send each notice as its own mail over one SMTP connection; raises as
    :func:`send_reminders` does."""
    mails = [
        (_address(n.recipient).lower(), build_notice_message(n, settings.from_addr), 1)
        for n in notices
    ]
    return _deliver(mails, settings, "notice")


def _deliver(
    mails: Sequence[tuple[str, EmailMessage, int]], settings: SmtpSettings, what: str
) -> list[SentReminder]:
    if not mails:
        return []
    _address(settings.from_addr)
    if settings.user and not settings.starttls and not _is_loopback(settings.host):
        raise MailError(
            f"refusing to send the SMTP password to {settings.host} unencrypted: "
            "set EVIDENCE_SMTP_STARTTLS=true"
        )
    where = f"{settings.host}:{settings.port}"
    try:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    except (OSError, smtplib.SMTPException) as exc:
        raise SmtpUnavailableError(
            f"cannot reach the SMTP server {where} ({exc.__class__.__name__}: {exc}): check "
            "EVIDENCE_SMTP_HOST and EVIDENCE_SMTP_PORT, or try again later"
        ) from exc
    sent: list[SentReminder] = []
    failed: dict[str, str] = {}
    try:
        with client:
            client.ehlo()
            if settings.starttls:
                context = ssl.create_default_context(
                    cafile=str(settings.ca_file) if settings.ca_file else None
                )
                client.starttls(context=context)
                client.ehlo()
            if settings.user:
                client.login(settings.user, settings.password or "")
            for recipient, msg, count in mails:
                try:
                    client.send_message(msg, settings.from_addr, [recipient])
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reply = exc.recipients.get(recipient, (0, b""))
                    failed[recipient] = f"{code} {_text(reply)}".strip()
                    continue
                except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    failed[recipient] = f"{exc.smtp_code} {_text(exc.smtp_error)}"
                    continue
                subject, message_id = str(msg["Subject"]), str(msg["Message-ID"])
                sent.append(SentReminder(recipient, subject, message_id, count))
                log.info("%s sent to %s (%d item(s))", what, recipient, count)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"the SMTP server {where} refused the login of {settings.user!r} "
            f"({exc.smtp_code}): check EVIDENCE_SMTP_USER and EVIDENCE_SMTP_PASSWORD"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"the SMTP server {where} does not support {exc}") from exc
    except ssl.SSLError as exc:
        raise MailError(
            f"STARTTLS with {where} failed ({exc}): check its certificate or EVIDENCE_SMTP_CA_FILE"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(
            f"the SMTP server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        ) from exc
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        done = ", ".join(s.recipient for s in sent) or "none"
        raise SmtpUnavailableError(
            f"the SMTP server {where} dropped the connection ({exc}); mails already sent: "
            f"{done}; try again later"
        ) from exc
    if failed:
        raise ReminderDeliveryError(failed, sent)
    return sent
