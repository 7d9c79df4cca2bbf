"""SQLAlchemy models. The schema itself comes from the Alembic migrations in migrations/."""

from .keys import SigningKey
from .oauth import AuthorizationCode, Client, Grant, RefreshToken
from .user import User

__all__ = ["AuthorizationCode", "Client", "Grant", "RefreshToken", "SigningKey", "User"]
