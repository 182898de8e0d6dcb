"""Users, passwords and sign-in sessions, in the project's database.

Passwords are stored only as Argon2id hashes (argon2-cffi, salted per hash). A sign-in returns a
random session token; the database keeps only its SHA-256, with an expiry, so a copy of the
database signs no one in. With no users at all the app runs in single-user local mode
(:data:`coverage.access.LOCAL`), so the embedded default needs no set-up.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from coverage import db
from coverage.access import ROLES, Principal
from coverage.models import User, UserSession, utcnow
from geodata.errors import VnbbError

SESSION_HOURS_ENV = "VNBB_SESSION_HOURS"
_HASHER = PasswordHasher()
_MIN_PASSWORD = 10


class UserError(VnbbError):
    """A user cannot be created or changed as asked (the message names the field)."""


class SignInError(VnbbError):
    """Wrong name or password, a disabled user, or an expired or unknown session."""


def session_hours() -> float:
    """How long a sign-in lasts (``VNBB_SESSION_HOURS``, default 8)."""
    try:
        return float(os.environ.get(SESSION_HOURS_ENV, "8"))
    except ValueError:
        raise UserError(f"{SESSION_HOURS_ENV} must be a number of hours, not {os.environ[SESSION_HOURS_ENV]!r}")


def _principal(user: User) -> Principal:
    return Principal(name=user.name, role=user.role, province=user.province_code or None,  # type: ignore[arg-type]
                     scheme=user.province_scheme or "34", operator=user.operator or None)


def add_user(name: str, role: str, password: str, *, province: str | None = None, scheme: str = "34",
             operator: str | None = None, known_provinces: set[str] | None = None,
             known_operators: set[str] | None = None, actor: str = "admin", engine: Engine | None = None) -> Principal:
    """Create a user. The province must be a code of ``scheme`` and the operator a known name
    when those sets are given (the CLI passes the registry's and the store's)."""
    name = name.strip()
    problems = []
    if not name:
        problems.append("field name: empty")
    if role not in ROLES:
        problems.append(f"field role: {role!r} is not one of {', '.join(ROLES)}")
    if role == "province":
        if not province:
            problems.append("field province: the province role needs --province CODE")
        elif known_provinces is not None and province not in known_provinces:
            problems.append(f"field province: {province!r} is not a province code of the {scheme} scheme")
    elif province:
        problems.append(f"field province: only the province role has a province (role is {role})")
    if role == "operator":
        if not operator:
            problems.append("field operator: the operator role needs --operator NAME")
        elif known_operators is not None and operator not in known_operators:
            problems.append(f"field operator: {operator!r} is not one of {', '.join(sorted(known_operators))}")
    elif operator:
        problems.append(f"field operator: only the operator role has an operator (role is {role})")
    if len(password) < _MIN_PASSWORD:
        problems.append(f"field password: at least {_MIN_PASSWORD} characters")
    if problems:
        raise UserError(f"cannot add user {name!r}: " + "; ".join(problems))
    with db.session(engine) as s:
        if s.scalar(sa.select(User.id).where(User.name == name)) is not None:
            raise UserError(f"cannot add user {name!r}: field name: a user of that name exists")
        user = User(name=name, role=role, province_code=province or "", province_scheme=scheme,
                    operator=operator or "", password_hash=_HASHER.hash(password))
        s.add(user)
        s.flush()
        db.audit(s, actor, "user.add", "user", user.id, name=name, role=role, province=province, operator=operator)
        return _principal(user)


def users(engine: Engine | None = None) -> list[User]:
    """Every user, by name."""
    with db.session(engine) as s:
        return list(s.scalars(sa.select(User).order_by(User.name)))


def any_users(engine: Engine | None = None) -> bool:
    """True when at least one enabled user exists (else the app runs in local single-user mode)."""
    with db.session(engine) as s:
        return s.scalar(sa.select(sa.func.count(User.id)).where(User.disabled.is_(False))) > 0


def set_disabled(name: str, disabled: bool = True, *, actor: str = "admin", engine: Engine | None = None) -> None:
    """Disable (or enable) a user; a disabled user's sessions end at once."""
    with db.session(engine) as s:
        user = s.scalar(sa.select(User).where(User.name == name))
        if user is None:
            raise UserError(f"no user named {name!r}")
        user.disabled = disabled
        if disabled:
            s.execute(sa.update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                      .values(revoked_at=utcnow()))
        db.audit(s, actor, "user.disable" if disabled else "user.enable", "user", user.id, name=name)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(name: str, password: str, engine: Engine | None = None) -> tuple[str, Principal]:
    """Check the password; a new session token and the principal, or :class:`SignInError`.

    Both outcomes are audited; the message never says which of name or password was wrong.
    """
    with db.session(engine) as s:
        user = s.scalar(sa.select(User).where(User.name == name.strip()))
        ok = False
        if user is not None and not user.disabled:
            try:
                ok = _HASHER.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:  # spend the same time as a real check, so timing does not tell who exists
            try:
                _HASHER.verify(_dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                pass
        if not ok:
            db.audit(s, name.strip() or "?", "sign_in.failed", "user", user.id if user else "")
        else:
            if _HASHER.check_needs_rehash(user.password_hash):
                user.password_hash = _HASHER.hash(password)
            token = secrets.token_urlsafe(32)
            now = utcnow()
            s.add(UserSession(user_id=user.id, token_sha256=_token_hash(token), created_at=now,
                              expires_at=now + dt.timedelta(hours=session_hours())))
            db.audit(s, user.name, "sign_in", "user", user.id)
            return token, _principal(user)
    raise SignInError("wrong name or password (or the user is disabled)")


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that a failed sign-in takes the
    same time either way; made on first use, not at import (hashing costs a tenth of a second)."""
    return _HASHER.hash(secrets.token_hex(16))


def resolve(token: str | None, engine: Engine | None = None) -> Principal | None:
    """The principal of a live session token, or None (unknown, expired, signed out, disabled)."""
    if not token:
        return None
    with db.session(engine) as s:
        row = s.execute(sa.select(UserSession, User).join(User, User.id == UserSession.user_id)
                        .where(UserSession.token_sha256 == _token_hash(token))).first()
        if row is None:
            return None
        sess, user = row
        expires = sess.expires_at if sess.expires_at.tzinfo else sess.expires_at.replace(tzinfo=dt.timezone.utc)
        if sess.revoked_at is not None or user.disabled or expires <= utcnow():
            return None
        return _principal(user)


def principal_named(name: str, engine: Engine | None = None) -> Principal | None:
    """The enabled user of that name as a principal (for sign-in by an identity provider)."""
    with db.session(engine) as s:
        user = s.scalar(sa.select(User).where(User.name == name.strip(), User.disabled.is_(False)))
        return _principal(user) if user is not None else None


def sign_out(token: str | None, engine: Engine | None = None) -> None:
    """End a session (idempotent)."""
    if not token:
        return
    with db.session(engine) as s:
        sess = s.scalar(sa.select(UserSession).where(UserSession.token_sha256 == _token_hash(token)))
        if sess is not None and sess.revoked_at is None:
            sess.revoked_at = utcnow()
            user = s.get(User, sess.user_id)
            db.audit(s, user.name if user else "?", "sign_out", "user", sess.user_id)
