"""Security mail: the owner hears of every event that matters to them (what happened, when,
from where, and what to do if it was not them).

Hooked on the audit log, so no caller can forget one: an event of `MAILED` queues a
message in the database session, and it leaves only when that session commits (a change
rolled back mails nobody), without making the request wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import clock

log = logging.getLogger("idp.mail")

_KEY = "idp.security_mail"

#: Event → subject. The templates say the rest, per event.
MAILED = {
    "password.changed": _l("Your password was changed"),
    "password.reset": _l("Your password was reset"),
    "mfa.added": _l("A second factor was added to your account"),
    "mfa.removed": _l("A second factor was removed from your account"),
    "mfa.recovery_code_used": _l("A recovery code was used to sign in"),
    # "mfa.reset" is not here: its own mail carries the link to enrol again (accounts.reset_mfa).
    "user.disabled": _l("Your account was disabled"),
    "lockout": _l("Sign-in locked after wrong codes"),
    "mfa.failures_notified": _l("Your password was used: change it"),
}


@dataclass(frozen=True)
class Queued:
    to: str
    subject: str
    text: str
    html: str


def wanted(event_name: str, detail: dict[str, Any]) -> bool:
    """A lockout after a wrong password is not mailed: anyone can cause one by typing an
    address. After a correct password it is (the factor is then a second factor)."""
    if event_name == "lockout":
        return detail.get("factor") not in (None, "pwd", "passkey")
    return event_name in MAILED


def on_audit(session: Session, event_name: str, user_id: int | None, ip: str | None, detail: dict[str, Any]) -> None:
    """Called by audit.emit for every event; queues the owner's mail for those that matter."""
    if user_id is None or not wanted(event_name, detail):
        return
    from .models import User

    user = session.get(User, user_id)
    if user is None:
        return
    session.info.setdefault(_KEY, []).append(_compose(user, event_name, ip, detail))


def _compose(user: Any, event_name: str, ip: str | None, detail: dict[str, Any]) -> Queued:
    from .web.user_agents import describe

    browser, system = describe(request.user_agent.string) if has_request_context() else (None, None)
    context = {
        "event": event_name, "detail": detail, "email": user.email, "at": clock.now(), "ip": ip,
        "browser": browser, "system": system, "account_url": current_app.config["IDP_ISSUER"] + "/account",
        "issuer": current_app.config["IDP_ISSUER"],
    }
    from . import i18n

    lang = user.locale or i18n.current()
    context["lang"] = lang
    with i18n.language(lang):
        subject = str(MAILED[event_name])
        # Rendered as text, then escaped by the HTML template (a factor's name is the person's).
        facts = render_template("mail/_security_facts.txt", **context)
        advice = render_template("mail/_security_advice.txt", **context)
        return Queued(user.email, subject, render_template("mail/security.txt", subject=subject, facts=facts, advice=advice, **context),
                      render_template("mail/security.html", subject=subject, facts=str(facts), advice=str(advice), **context))


def _after_commit(session: Session) -> None:
    from . import mail

    for message in session.info.pop(_KEY, ()):
        if has_request_context():
            mail.send_later(message.to, message.subject, message.text, html=message.html)
            continue
        # A command (`idp users disable`) may exit before a background thread has sent.
        try:
            mail.send(message.to, message.subject, message.text, html=message.html)
        except mail.MailError:
            pass  # logged by mail


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
