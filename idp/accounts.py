"""Managing people: invitations, the accounts they become, and what admins do to them.

The command line and the admin console call the same functions. They add to the session
and audit; the caller commits once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from . import audit, background, clock, emails, mail, metrics
from .authn.password_policy import check, normalize
from .extensions import db
from .mfa import recovery
from .models import EnrolmentLink, Invitation, PasswordReset, TotpFactor, User, WebAuthnCredential
from .models.user import normalize_email
from .oauth import revocation
from .security.tokens import random_token, token_hash
from .texts import N_


class AccountError(ValueError):
    """A refusal to show (to an admin, or on the invitation page; translated by
    idp.i18n.explain)."""


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: int


def _issuer() -> str:
    return current_app.config["IDP_ISSUER"]


def valid_email(email: str) -> str:
    """The address normalised, or AccountError saying why it is not one (idp.emails)."""
    try:
        return emails.validated(email)
    except emails.InvalidEmail as exc:
        raise AccountError(str(exc)) from None


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


# --- invitations --------------------------------------------------------------------------

def language_of(user: User, fallback: str | None = None) -> str:
    """The language to write to a person in: theirs, else `fallback` (a background job's
    page language), else the request's (they are the one asking, on the page at hand),
    else English."""
    from . import i18n

    return user.locale if user.locale in i18n.LANGUAGES else (fallback or i18n.current())


def invite(email: str, *, actor: User | None, is_admin: bool = False, require_mfa: bool = False,
           locale: str | None = None) -> IssuedLink:
    """`locale`: the language of the invitation mail and of the account."""
    email = valid_email(email)
    if find_user(email) is not None:
        raise AccountError(N_("%(email)s already has an account.", email=email))
    now = clock.now()
    # One live invitation per address: a new one replaces any earlier one.
    db.session.execute(
        update(Invitation)
        .where(Invitation.email == email, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = random_token(32)
    row = Invitation(
        email=email, token_hash=token_hash(token), invited_by=actor.id if actor else None,
        is_admin=is_admin, require_mfa=require_mfa, created_at=now,
        expires_at=now + current_app.config["IDP_INVITE_TTL"], locale=locale,
    )
    db.session.add(row)
    db.session.flush()
    audit.emit("invitation.sent", actor_id=actor.id if actor else None, email=email, admin=is_admin, require_mfa=require_mfa)
    metrics.invitation("sent")
    return _send_invitation(row, token, actor)


def resend(invitation_id: int, *, actor: User | None) -> IssuedLink:
    """A new link for the same invitation (only the hash was kept: the old link dies)."""
    row = db.session.get(Invitation, invitation_id)
    if row is None or row.state(clock.now()) in ("used", "revoked"):
        raise AccountError(N_("This invitation can no longer be sent."))
    token = random_token(32)
    row.token_hash = token_hash(token)
    row.expires_at = clock.now() + current_app.config["IDP_INVITE_TTL"]
    audit.emit("invitation.resent", actor_id=actor.id if actor else None, email=row.email)
    metrics.invitation("sent")
    return _send_invitation(row, token, actor)


def revoke_invitation(invitation_id: int, *, actor: User | None) -> None:
    row = db.session.get(Invitation, invitation_id)
    if row is None or row.used_at is not None:
        raise AccountError(N_("This invitation cannot be revoked."))
    row.revoked_at = row.revoked_at or clock.now()
    audit.emit("invitation.revoked", actor_id=actor.id if actor else None, email=row.email)


def _send_invitation(row: Invitation, token: str, actor: User | None) -> IssuedLink:
    url = f"{_issuer()}/invite/{token}"
    row.sent_at = clock.now()
    subject, body = mail.compose(
        "invitation", row.locale, inviter=(actor.name or actor.email) if actor else None, site=_issuer(), url=url,
        hours=current_app.config["IDP_INVITE_TTL"] // 3600,
    )
    mail.send(row.email, subject, body)
    return IssuedLink(url, row.expires_at)


def invitation_for(token: str) -> tuple[Invitation | None, str]:
    """The invitation of a link and its state (pending, used, expired, revoked, unknown)."""
    row = db.session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if row is None:
        return None, "unknown"
    return row, row.state(clock.now())


def complete_invitation(token: str, password: str, *, name: str | None, passwords,  # noqa: ANN001
                        locale: str | None = None) -> User:
    """Create the account: the only way one comes to exist besides `idp users create`.
    `locale`: the language the person accepted it in."""
    row, state = invitation_for(token)
    if row is None or state != "pending":
        raise AccountError(N_("This invitation link is not valid any more."))
    normalized = check(password, second_factor_required=row.require_mfa, email=row.email, name=name)
    _take(row)
    user = new_user(row.email, normalized, passwords=passwords, name=name, is_admin=row.is_admin, mfa_required=row.require_mfa)
    user.locale = locale or row.locale
    audit.emit("invitation.used", user_id=user.id, actor_id=row.invited_by, email=row.email)
    metrics.invitation("used")
    return user


def complete_invitation_with_upstream(row: Invitation, *, name: str | None) -> User:
    """The invitation accepted with an upstream provider whose verified email is the
    invited one (idp.authn.upstream): an account without a password, linked by the caller."""
    _take(row)
    user = new_user(row.email, None, passwords=None, name=name, is_admin=row.is_admin, mfa_required=row.require_mfa)
    user.locale = row.locale
    audit.emit("invitation.used", user_id=user.id, actor_id=row.invited_by, email=row.email, via="upstream")
    metrics.invitation("used")
    return user


def _take(row: Invitation) -> None:
    """Taking the invitation is one conditional UPDATE: two tabs submitting at once create
    one account."""
    taken = db.session.execute(
        update(Invitation).where(Invitation.id == row.id, Invitation.used_at.is_(None)).values(used_at=clock.now())
    ).rowcount
    if taken != 1 or find_user(row.email) is not None:
        raise AccountError(N_("This invitation link is not valid any more."))


def new_user(email: str, password: str | None, *, passwords, name: str | None = None, is_admin: bool = False,  # noqa: ANN001
             mfa_required: bool = False) -> User:
    """`password` None: an account that signs in through an upstream provider only."""
    user = User(
        subject=secrets.token_urlsafe(16), email=valid_email(email), name=(name or "").strip()[:200] or None,
        password_hash=passwords.hash(normalize(password)) if password is not None else None,
        is_admin=is_admin, mfa_required=mfa_required,
        created_at=clock.now(),
    )
    db.session.add(user)
    db.session.flush()
    return user


# --- what admins do -----------------------------------------------------------------------

def disable(user: User, *, actor: User | None) -> None:
    """Ends their sessions and revokes their refresh tokens at once."""
    if actor is not None and actor.id == user.id:
        raise AccountError(N_("You cannot disable yourself."))
    _keep_another_admin(user)
    user.disabled = True
    user.session_epoch += 1  # every session of theirs ends
    revocation.revoke_user_grants(user.id, reason="disabled")
    audit.emit("user.disabled", user_id=user.id, actor_id=actor.id if actor else None)


def enable(user: User, *, actor: User | None) -> None:
    user.disabled = False
    audit.emit("user.enabled", user_id=user.id, actor_id=actor.id if actor else None)


def reset_mfa(user: User, *, actor: User | None) -> IssuedLink:
    """Lost authenticators: every second factor goes and every session ends. The account
    requires one from now on, and the owner is mailed a link to enrol it: the password
    alone never reaches enrolment (issue 9, item 5). The caller commits once the mail is
    out (a MailError means nothing was saved)."""
    db.session.query(TotpFactor).filter_by(user_id=user.id).delete()
    db.session.query(WebAuthnCredential).filter_by(user_id=user.id).delete()
    recovery.discard(user.id)
    user.mfa_required = True
    user.session_epoch += 1  # every session of theirs ends
    revocation.revoke_user_grants(user.id, reason="mfa_reset")
    # The links of an earlier reset die with this one.
    db.session.execute(
        update(EnrolmentLink).where(EnrolmentLink.user_id == user.id, EnrolmentLink.used_at.is_(None))
        .values(used_at=clock.now())
    )
    audit.emit("mfa.reset", user_id=user.id, actor_id=actor.id if actor else None)
    link = new_enrolment_link(user)
    mail.send(user.email, "The second factors of your account were reset", _enrolment_mail(
        "An administrator removed every second factor (authenticator apps, security keys,\n"
        "recovery codes) of your account", link))
    return link


def needs_enrolment_link(user: User, enrolled: set[str]) -> bool:
    """An account whose second factors were reset, and which has none yet, enrols only with
    a mailed link. (An account the operator provisioned with `--require-mfa`, or imported
    so, has never had one: it enrols at its first sign-in, as the operator arranged.)"""
    if not user.mfa_required or enrolled:
        return False
    return db.session.scalar(select(EnrolmentLink.id).where(EnrolmentLink.user_id == user.id).limit(1)) is not None


ENROLMENT_LINKS_PER_HOUR = 3


def mail_enrolment_link(user: User) -> None:
    """After a correct password, for an account waiting for its enrolment link: a new link
    goes to the owner (not to whoever typed the password), a few per hour at most. Earlier
    links stay good, so signing in with a stolen password cannot cancel the owner's."""
    from .store import counters

    if counters.incr_once(f"enrol-link:{user.id}", 3600) > ENROLMENT_LINKS_PER_HOUR:
        return
    link = new_enrolment_link(user)
    audit.emit("mfa.enrolment_link_sent", user_id=user.id)
    mail.send_later(user.email, "Set up a second factor for your account", _enrolment_mail(
        "Someone (we hope you) signed in to your account with its password, and it needs a\n"
        "second factor", link))


def take_enrolment_link(token: str, user: User) -> bool:
    """Use this person's link, once (a conditional UPDATE: of two uses at once, one wins);
    every other live link of theirs ends with it."""
    now = clock.now()
    taken = db.session.execute(
        update(EnrolmentLink).where(
            EnrolmentLink.token_hash == token_hash(token), EnrolmentLink.user_id == user.id,
            EnrolmentLink.used_at.is_(None), EnrolmentLink.expires_at > now,
        ).values(used_at=now)
    ).rowcount
    if taken != 1:
        return False
    db.session.execute(
        update(EnrolmentLink).where(EnrolmentLink.user_id == user.id, EnrolmentLink.used_at.is_(None)).values(used_at=now)
    )
    audit.emit("mfa.enrolment_link_used", user_id=user.id)
    return True


def enrolment_link_is_live(token: str) -> bool:
    row = db.session.scalar(select(EnrolmentLink).where(EnrolmentLink.token_hash == token_hash(token)))
    return row is not None and row.used_at is None and row.expires_at > clock.now()


def new_enrolment_link(user: User) -> IssuedLink:
    token = random_token(32)
    now = clock.now()
    row = EnrolmentLink(user_id=user.id, token_hash=token_hash(token), created_at=now,
                        expires_at=now + current_app.config["IDP_INVITE_TTL"])
    db.session.add(row)
    return IssuedLink(f"{_issuer()}/enrol/{token}", row.expires_at)


def _enrolment_mail(what_happened: str, link: IssuedLink) -> str:
    return (
        f"{what_happened} at {_issuer()}.\n\n"
        f"To set up a new second factor, open this link in the browser you sign in with, then\n"
        f"sign in with your password:\n\n    {link.url}\n\n"
        f"The link works once and expires in {current_app.config['IDP_INVITE_TTL'] // 3600} hours. Your password alone\n"
        "will not set one up. If you did not expect this, tell your administrator: someone may\n"
        "know your password.\n"
    )


def set_admin(user: User, is_admin: bool, *, actor: User | None) -> None:
    if not is_admin:
        _keep_another_admin(user)
    user.is_admin = is_admin
    audit.emit("user.promoted" if is_admin else "user.demoted", user_id=user.id, actor_id=actor.id if actor else None)


_ACTIVE_ADMIN = (User.is_admin, User.disabled.is_(False))


def _keep_another_admin(user: User) -> None:
    """Refuse to take `user` out of the active admins if nobody else is one.

    Count-then-write raced to zero admins (two admins removing each other at once), so the
    active admins' rows are locked first with a no-op UPDATE, then counted. PostgreSQL:
    the UPDATE takes their row locks, a concurrent removal waits for our commit and then
    re-reads (READ COMMITTED), so it sees our change. SQLite: it is the transaction's first
    write, so it takes the database's write lock before reading (the busy timeout waits for
    the other writer). The caller commits or rolls back, which releases the locks."""
    db.session.execute(
        update(User).where(*_ACTIVE_ADMIN).values(is_admin=User.is_admin).execution_options(synchronize_session=False)
    )
    admins = set(db.session.scalars(select(User.id).where(*_ACTIVE_ADMIN)))
    if admins == {user.id}:
        raise AccountError(N_("This is the last admin."))


# --- forgotten password ------------------------------------------------------------------

RESETS_PER_ACCOUNT_HOUR = 3
RESETS_PER_ADDRESS_HOUR = 20


def request_password_reset(email: str, *, ip: str) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way.

    The request itself does the same work for any address, known or not (issue 9, item 10):
    the two rate counters (a few per hour per address typed and per client address, so
    nobody can flood a mailbox), then a background job. Looking the account up, writing
    the link and mailing it all happen after the answer."""
    from .lockout.regulator import account_key
    from .store import counters

    over = (
        counters.incr_once(f"reset:{account_key(email)}", 3600) > RESETS_PER_ACCOUNT_HOUR
        or counters.incr_once(f"reset-ip:{ip}", 3600) > RESETS_PER_ADDRESS_HOUR
    )
    if over:
        audit.emit("password.reset_requested", ip=ip, sent=False, limited=True)
        return
    from . import i18n

    # The job runs outside the request: it takes the page's language along.
    background.later("password-reset", _send_reset_link, email, ip=ip, page_language=i18n.current())


def _send_reset_link(email: str, *, ip: str, page_language: str) -> None:
    """The background half: one live link at a time, a new one ends the earlier ones."""
    user = find_user(email) if "@" in email else None
    if user is None or user.disabled:
        audit.emit("password.reset_requested", ip=ip, known=False, sent=False)
        db.session.commit()
        return
    now = clock.now()
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = random_token(32)
    db.session.add(PasswordReset(user_id=user.id, token_hash=token_hash(token), created_at=now,
                                 expires_at=now + current_app.config["IDP_RESET_TTL"]))
    audit.emit("password.reset_requested", user_id=user.id, ip=ip, known=True, sent=True)
    db.session.commit()
    subject, body = mail.compose(
        "password_reset", language_of(user, page_language), site=_issuer(), url=f"{_issuer()}/password/reset/{token}",
        minutes=current_app.config["IDP_RESET_TTL"] // 60,
    )
    mail.send(user.email, subject, body)


def reset_for(token: str) -> tuple[PasswordReset, User] | tuple[None, None]:
    row = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= clock.now():
        return None, None
    user = db.session.get(User, row.user_id)
    if user is None or user.disabled:
        return None, None
    return row, user


def complete_password_reset(token: str, password: str, *, passwords, ip: str) -> User:  # noqa: ANN001
    row, user = reset_for(token)
    if row is None:
        raise AccountError(N_("This link is not valid any more. Ask for a new one."))
    normalized = check(password, second_factor_required=user.mfa_required, email=user.email, name=user.name)
    used = db.session.execute(
        update(PasswordReset).where(PasswordReset.id == row.id, PasswordReset.used_at.is_(None)).values(used_at=clock.now())
    ).rowcount
    if used != 1:
        raise AccountError(N_("This link is not valid any more. Ask for a new one."))
    user.password_hash = passwords.hash(normalized)
    # Whoever knew the old password is signed out everywhere.
    user.session_epoch += 1  # every session of theirs ends
    revocation.revoke_user_grants(user.id, reason="password_reset")
    audit.emit("password.reset", user_id=user.id, ip=ip)
    return user


def change_password(user: User, current: str, new: str, *, passwords, ip: str) -> None:  # noqa: ANN001
    """Whoever knew the old password loses every session and token it got them; the caller
    keeps the session of the person who changed it."""
    if not passwords.verify(user.password_hash, normalize(current)):
        raise AccountError(N_("Your current password is not right."))
    normalized = check(new, second_factor_required=user.mfa_required, email=user.email, name=user.name)
    user.password_hash = passwords.hash(normalized)
    user.session_epoch += 1
    revocation.revoke_user_grants(user.id, reason="password_changed")
    audit.emit("password.changed", user_id=user.id, ip=ip)
