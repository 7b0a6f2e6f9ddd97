"""Users, password hashing (Argon2 via pwdlib) and signed bearer tokens (JWT, HS256)."""

from __future__ import annotations

from datetime import timedelta

import jwt
from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from twin.config import Settings
from twin.errors import AuthenticationError, Conflict, InputError
from twin.models import ROLES, User, utcnow

_hasher = PasswordHash.recommended()
# Verifying against this keeps the answer time the same whether or not the user exists.
_DUMMY_HASH = _hasher.hash("timing-equaliser")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_user(session: Session, username: str, role: str, password: str) -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise InputError("username must be 1 to 80 characters")
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must be at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher.verify(password, _DUMMY_HASH)
        raise AuthenticationError("wrong username or password")
    valid, new_hash = _hasher.verify_and_update(password, user.password_hash)
    if not valid:
        raise AuthenticationError("wrong username or password")
    if new_hash:
        user.password_hash = new_hash
    return user


def create_token(user: User, settings: Settings, minutes: int | None = None) -> str:
    """A signed token; `minutes` overrides the configured lifetime (long-lived device tokens)."""
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iat": now,
        "exp": now + timedelta(minutes=minutes or settings.token_minutes),
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def user_from_token(session: Session, token: str, settings: Settings) -> User:
    """The active user a token names; the role is re-read from the database, so a demoted or
    disabled user loses rights at once."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
        user_id = int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationError("token expired; log in again") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
        raise AuthenticationError("invalid token") from exc
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AuthenticationError("token's user no longer exists or is disabled")
    return user
