"""Sending mail over SMTP with settings from the environment; the password never shows."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from pipeline.errors import ConfigError, NewstrackError

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}


class MailError(NewstrackError):
    """The SMTP server could not be reached or would not take a message."""


class RecipientRefused(MailError):
    """The SMTP server refused one recipient; others may still be sent to."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: NEWSTRACK_SMTP_HOST, _PORT, _USER, _PASSWORD, _SECURITY, _CA_FILE."""

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "none"
    sender: str = "newstrack@localhost"
    ca_file: str | None = None  # a private certificate authority to trust, for STARTTLS or SSL
    timeout: float = 30.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """Read the settings; a bad value is a configuration error naming its variable."""
        security = environ.get("NEWSTRACK_SMTP_SECURITY", "none").lower()
        if security not in SECURITY:
            raise ConfigError(f"NEWSTRACK_SMTP_SECURITY={security!r}: one of {', '.join(SECURITY)}")
        port_text = environ.get("NEWSTRACK_SMTP_PORT", str(DEFAULT_PORT[security]))
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"NEWSTRACK_SMTP_PORT={port_text!r} is not a port number")
        return cls(
            host=environ.get("NEWSTRACK_SMTP_HOST", "localhost"),
            port=int(port_text),
            user=environ.get("NEWSTRACK_SMTP_USER") or None,
            password=environ.get("NEWSTRACK_SMTP_PASSWORD") or None,
            security=security,
            sender=environ.get("NEWSTRACK_MAIL_FROM", "newstrack@localhost"),
            ca_file=environ.get("NEWSTRACK_SMTP_CA_FILE") or None,
        )

    @property
    def where(self) -> str:
        """The server, as errors name it."""
        return f"{self.host}:{self.port} ({self.security})"


def send(settings: SmtpSettings, message: EmailMessage, recipient: str) -> None:
    """Send one message to one recipient; errors say what failed without the password."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.user:
                client.login(settings.user, settings.password or "")
            client.send_message(message, from_addr=settings.sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as error:
        code, reason = error.recipients.get(recipient, (0, b""))
        raise RecipientRefused(
            f"{settings.where} refused {recipient}: {code} {_text(reason)}"
        ) from None
    except smtplib.SMTPAuthenticationError as error:
        raise MailError(
            f"{settings.where} refused the login of {settings.user!r}: {error.smtp_code} "
            f"{_text(error.smtp_error)}"
        ) from None
    except smtplib.SMTPResponseException as error:
        raise MailError(
            f"{settings.where} answered {error.smtp_code} {_text(error.smtp_error)}"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(
            f"cannot send through {settings.where}: {_scrub(str(error), settings)}"
        ) from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _scrub(text: str, settings: SmtpSettings) -> str:
    return text.replace(settings.password, "***") if settings.password else text
