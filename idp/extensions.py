"""Extension singletons, bound to the app in create_app."""

from typing import Any

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Executable
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


#: Objects stay as they were committed instead of being reloaded at the next attribute
#: access: a request reads a row once, not once per commit (its session ends with it).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()


def write_ephemeral(statement: Executable, params: dict[str, Any]) -> None:
    """One standalone write, committed by itself (AUTOCOMMIT: one round trip, no BEGIN or
    COMMIT). On PostgreSQL this pool does not wait for the write to reach disk
    (synchronous_commit off): a crash of the database may lose the last fraction of a
    second of such writes. Only for rows whose loss is harmless: an authorization code
    (its exchange fails and the app starts the sign-in again), never a use, a revocation
    or a credential."""
    from . import direct_sql

    direct_sql.write(statement, params, pool="idp.ephemeral")
