"""Sending mail over SMTP; errors say what failed and the password never shows."""

from __future__ import annotations

import contextlib
import email.generator
import io
import smtplib
import ssl
from email.message import EmailMessage

from models.errors import NewstrackError
from pipeline.config.settings import SmtpSettings


class MailError(NewstrackError):
    """The SMTP server could not be reached or would not take a message."""

    def __init__(self, message: str, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered  # the link broke after the message was handed over


class RecipientRefused(MailError):
    """The SMTP server refused one recipient; others may still be sent to."""


def send(settings: SmtpSettings, message: EmailMessage, recipient: str) -> None:
    """Send one message to one recipient; errors say what failed without the password.

    Until the message itself is handed over, any failure means it was not sent. A link broken
    while it is being handed over is a MailError with `maybe_delivered`: the server may have it.
    A failure to say goodbye after the server took it is no failure.
    """
    context = ssl.create_default_context(cafile=settings.ca_file)
    handing_over = False
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.user:
                client.login(settings.user, settings.password or "")
            client.ehlo_or_helo_if_needed()
            code, reply = client.mail(settings.sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, settings.sender)
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            handing_over = True
            code, reply = client.data(_wire_bytes(message))
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()
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
            f"cannot send through {settings.where}: {_scrub(str(error), settings)}",
            maybe_delivered=handing_over,
        ) from None


def _wire_bytes(message: EmailMessage) -> bytes:
    """The message as SMTP carries it: CRLF line ends (smtplib dot-stuffs it)."""
    buffer = io.BytesIO()
    email.generator.BytesGenerator(buffer).flatten(message, linesep="\r\n")
    return buffer.getvalue()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _scrub(text: str, settings: SmtpSettings) -> str:
    return text.replace(settings.password, "***") if settings.password else text
