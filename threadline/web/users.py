"""Users of the steward web app: names, roles and argon2id password hashes in ``tl_user``.

Roles and what they may do:

- ``viewer``: read the queue, exceptions, links, costs and runs.
- ``steward``: what a viewer may, plus work exceptions and links, and export tables.
- ``auditor``: read everything, export, and read the audit log; changes nothing.
- ``admin``: everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from threadline.errors import FatalError
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, utcnow

ROLES = ("viewer", "steward", "auditor", "admin")

#: permission -> the roles that have it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "act": frozenset({"steward", "admin"}),
    "export": frozenset({"steward", "auditor", "admin"}),
    "audit": frozenset({"auditor", "admin"}),
}

MIN_PASSWORD_LENGTH = 10
_MAX_NAME = schema.user.c.user_name.type.length

# argon2-cffi's defaults follow RFC 9106's second recommended (memory-constrained) profile
_hasher = PasswordHasher()
# verifying an unknown user's password against this keeps the answer time the same as for a known one
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class UserError(FatalError):
    """A user cannot be added or changed as asked; nothing was changed."""


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    name: str
    role: str

    def can(self, permission: str) -> bool:
        """Whether this user's role has ``permission`` (read, act, export, audit)."""
        return self.role in PERMISSIONS[permission]


def _checked(name: str, role: str, password: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > _MAX_NAME or any(c.isspace() for c in name):
        raise UserError(f"user name {name[:40]!r} must be 1 to {_MAX_NAME} characters without spaces")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password of {name} must have at least {MIN_PASSWORD_LENGTH} characters")
    return name


def add_user(warehouse: Warehouse, name: str, role: str, password: str) -> User:
    """Add a user with a role; refuses a name that is taken."""
    name = _checked(name, role, password)
    now = utcnow()
    t = schema.user
    with warehouse.engine.begin() as conn:
        if conn.execute(select(t.c.user_name).where(t.c.user_name == name)).first():
            raise UserError(f"user {name} exists already; use `threadline users set` to change the role or password")
        conn.execute(t.insert().values(user_name=name, role=role, password_hash=_hasher.hash(password),
                                       created_at=now, updated_at=now, disabled=False))
    return User(name, role)


def set_user(warehouse: Warehouse, name: str, *, role: str | None = None, password: str | None = None,
             disabled: bool | None = None) -> User:
    """Change a user's role, password or whether they may sign in."""
    t = schema.user
    with warehouse.engine.begin() as conn:
        row = conn.execute(select(t.c.role).where(t.c.user_name == name)).first()
        if row is None:
            raise UserError(f"no user {name}; add one with `threadline users add {name} --role ROLE`")
        role = role or row.role
        # a password left as it is was checked when it was set
        _checked(name, role, password if password is not None else "x" * MIN_PASSWORD_LENGTH)
        values = {"role": role, "updated_at": utcnow()}
        if password is not None:
            values["password_hash"] = _hasher.hash(password)
        if disabled is not None:
            values["disabled"] = disabled
        conn.execute(update(t).where(t.c.user_name == name).values(**values))
    return User(name, role)


def list_users(warehouse: Warehouse) -> list[dict]:
    """Every user with role, state and times (no hashes)."""
    t = schema.user
    with warehouse.engine.connect() as conn:
        rows = conn.execute(select(t.c.user_name, t.c.role, t.c.disabled, t.c.created_at, t.c.last_login_at)
                            .order_by(t.c.user_name)).mappings().all()
    return [dict(r) for r in rows]


def authenticate(warehouse: Warehouse, name: str, password: str) -> User | None:
    """The user whose name and password these are, or None (unknown, wrong password or disabled)."""
    t = schema.user
    with warehouse.engine.connect() as conn:
        row = conn.execute(select(t.c.role, t.c.password_hash, t.c.disabled)
                           .where(t.c.user_name == (name or "").strip())).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    with warehouse.engine.begin() as conn:
        values = {"last_login_at": utcnow()}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(t).where(t.c.user_name == name.strip()).values(**values))
    return User(name.strip(), row.role)


def current_user(warehouse: Warehouse, name: str) -> User | None:
    """The user a session names, re-read so that a changed role or a disabled user takes effect at once."""
    t = schema.user
    with warehouse.engine.connect() as conn:
        row = conn.execute(select(t.c.role, t.c.disabled).where(t.c.user_name == name)).first()
    return None if row is None or row.disabled else User(name, row.role)
