"""A real SMTP server on loopback for the tests that send email (loaded by tests/conftest.py).

`smtp_server` starts aiosmtpd on 127.0.0.1 at a free port, points the default mailer at
it, and collects what it receives, parsed (`email.message.EmailMessage`). It can refuse
(`smtp_server.refuse = "550 ..."`, or `refuse_to[address]` for one recipient) and be
stopped and started again on the same port, for the tests of a server that says no or is
down.
"""

import email
import socket
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, server: "SMTPServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.server.refuse or self.server.refuse_to.get(address, "")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.server.lock:
            self.server.messages.append(message)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


class SMTPServer:
    def __init__(self):
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        # An SMTP answer such as "550 5.1.1 No such user": for every recipient, or for some.
        self.refuse = ""
        self.refuse_to: dict[str, str] = {}
        self.lock = threading.Lock()
        self._controller = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_mailer(port: int) -> dict:
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
    }


@pytest.fixture
def smtp_server(settings):
    server = SMTPServer()
    server.start()
    settings.MAILERS = {"default": smtp_mailer(server.port)}
    try:
        yield server
    finally:
        server.stop()
