"""Outgoing mail: SMTP when IDP_SMTP_URL is set, otherwise the log and instance/outbox/,
never dropped silently. Messages are written from templates/mail/ in the reader's language
(compose); plain text, or text and HTML alternatives (security mail)."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from . import clock

log = logging.getLogger("idp.mail")


class MailError(RuntimeError):
    pass


def compose(template: str, language: str | None, **context: object) -> tuple[str, str]:
    """The subject and body of templates/mail/<template>.txt, in `language` ("en" or "ja";
    anything else: English). The template sets `subject`; the rest is the body."""
    from . import i18n

    with i18n.language(language):
        module = current_app.jinja_env.get_template(f"mail/{template}.txt").make_module(context)
        return str(module.subject).strip(), str(module).strip() + "\n"


def send(to: str, subject: str, body: str, *, html: str | None = None) -> None:
    """An RFC 5322 message (Date, Message-ID); with `html`, multipart/alternative."""
    message = EmailMessage()
    message["From"] = current_app.config["IDP_MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(clock.now(), usegmt=True)
    message["Message-ID"] = make_msgid(domain=urlsplit(current_app.config["IDP_ISSUER"]).hostname or "localhost")
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    url = current_app.config.get("IDP_SMTP_URL")
    if url:
        _smtp(url, message)
    else:
        _outbox(message)


def send_later(to: str, subject: str, body: str, *, html: str | None = None) -> None:
    """Send without making the request wait: the answer takes the same time whether a
    mail goes out or not (a forgotten-password request must not reveal who has an
    account), and a slow SMTP server does not slow sign-in."""
    from .background import later

    later("mail", _send_quietly, to, subject, body, html)


def _send_quietly(to: str, subject: str, body: str, html: str | None = None) -> None:
    try:
        send(to, subject, body, html=html)
    except MailError:
        pass  # logged by _smtp


def _smtp(url: str, message: EmailMessage) -> None:
    """smtp://[user:pass@]host[:port][?starttls=1], or smtps:// for TLS from the start."""
    parts = urlsplit(url)
    options = parse_qs(parts.query)
    host, port = parts.hostname or "localhost", parts.port
    try:
        if parts.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=10, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(host, port or 25, timeout=10)
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                server.starttls(context=ssl.create_default_context())
        with server:
            if parts.username:
                server.login(unquote(parts.username), unquote(parts.password or ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail to %s not sent: %s", message["To"], exc)
        raise MailError(str(exc)) from exc
    log.info("mail sent to %s: %s", message["To"], message["Subject"])


def _outbox(message: EmailMessage) -> None:
    outbox = Path(current_app.instance_path) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{clock.now()}-{secrets.token_hex(4)}.eml"
    path.write_bytes(bytes(message))
    log.warning("no IDP_SMTP_URL: mail to %s saved to %s\n%s", message["To"], path, message.get_body(("plain",)).get_content())
