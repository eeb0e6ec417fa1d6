"""Fixtures of the deadline tests: calendars from override tables written in tmp_path, and a
real SMTP server (aiosmtpd on a free local port) whose handler keeps every message."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.fixtures.http_tsa import free_port
from workflow.deadlines import WorkingCalendar, load_overrides


@pytest.fixture
def calendar_from(tmp_path: Path) -> Callable[[str], WorkingCalendar]:
    """``calendar_from(toml_text)``: a calendar with that override table."""

    def make(text: str) -> WorkingCalendar:
        path = tmp_path / "calendar_overrides.toml"
        path.write_text(text, encoding="utf-8")
        return WorkingCalendar(load_overrides(path))

    return make


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler: keeps what it receives; refuses recipients in ``refuse``."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Collector


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SmtpServer]]:
    """``start_smtp(**controller_options)``: a real SMTP server on 127.0.0.1 (stopped after
    the test); options go to aiosmtpd's Controller (tls_context, authenticator...)."""
    controllers: list[Controller] = []

    def start(**options: Any) -> SmtpServer:
        handler = Collector()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return SmtpServer("127.0.0.1", port, handler)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(start_smtp: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server (no TLS, no login), as a local relay would be."""
    return start_smtp()
