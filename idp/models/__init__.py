"""SQLAlchemy models. The schema itself comes from the Alembic migrations in migrations/."""

from .invitation import EnrolmentLink, Invitation, PasswordReset
from .keys import SigningKey
from .mfa import AuditEvent, RecoveryCode, TotpFactor, WebAuthnCredential
from .oauth import AuthorizationCode, Client, Grant, RefreshToken
from .upstream import Upstream, UpstreamLink
from .user import User

__all__ = [
    "AuditEvent", "AuthorizationCode", "Client", "EnrolmentLink", "Grant", "Invitation", "PasswordReset", "RecoveryCode",
    "RefreshToken", "SigningKey", "TotpFactor", "Upstream", "UpstreamLink", "User", "WebAuthnCredential",
]
