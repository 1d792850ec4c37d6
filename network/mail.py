"""Outgoing e-mail: SMTP when configured, otherwise .eml files in the instance outbox, so nothing is lost."""
from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server; .recipient and .detail (the transport's reason)."""

    code = "mail.failed"

    def __init__(self, recipient: str, detail: str) -> None:
        super().__init__(f"{self.code}: {recipient}: {detail}")
        self.recipient = recipient
        self.detail = detail


class Mailer:
    """Send EmailMessage objects; the transport comes from the config so tests pass a real local SMTP server."""

    def __init__(self, config: Mapping, instance_path: str) -> None:
        self.server = config["MAIL_SERVER"]
        self.port = config["MAIL_PORT"]
        self.username = config["MAIL_USERNAME"]
        self.password = config["MAIL_PASSWORD"]
        self.use_tls = config["MAIL_USE_TLS"]
        self.sender = config["MAIL_FROM"]
        self.outbox = Path(instance_path) / "outbox"

    def new_message(self, to: str, subject: str, body: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="partnernetz.invalid")
        msg.set_content(body)
        return msg

    def send(self, msg: EmailMessage) -> str:
        """Deliver msg; returns 'smtp' or the path of the .eml file written to the outbox."""
        if msg["From"] is None:
            msg["From"] = self.sender
        if not self.server:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{uuid.uuid4().hex}.eml"
            path.write_bytes(bytes(msg))
            log.info("Mail an %s (%s) in den Postausgang geschrieben: %s", msg["To"], msg["Subject"], path)
            return str(path)
        try:
            with smtplib.SMTP(self.server, self.port, timeout=30) as smtp:
                if self.use_tls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(str(msg["To"]), str(exc)) from exc
        return "smtp"
