"""Typed FastAPI dependencies: settings, database session, current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from twin.auth import user_from_token
from twin.config import Settings
from twin.db import Database
from twin.errors import AuthenticationError, PermissionDenied
from twin.jobs import JobRunner
from twin.models import User
from twin.sensors.live import Hub

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner  # type: ignore[no-any-return]


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.session() as session:
        yield session


# Requests holding a session at once, per process, below the pool's connections. Past it a
# request waits without a worker thread; without it, under a crowd every worker thread could
# block waiting for a connection while the requests holding them wait for a thread to finish
# (a deadlock seen with 100 concurrent public readers). "function" scope commits before the
# answer leaves, so a client that got 201 can read what it created at once.
SESSION_LIMIT = 15


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
SessionDep = Annotated[
    Session, Depends(get_session, scope="function", max_concurrency=SESSION_LIMIT)
]


def get_optional_user(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2)]
) -> User | None:
    """The caller, or None for an anonymous reader of public content."""
    if token is None:
        return None
    return user_from_token(session, token, settings)


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise AuthenticationError("not authenticated: send 'Authorization: Bearer <token>'")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only `roles` through (403 for the others, 401 for no one)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise PermissionDenied(f"this needs one of the roles: {', '.join(roles)}")
        return user

    return check


AdminUser = Annotated[User, Depends(require_roles("admin"))]
StaffUser = Annotated[User, Depends(require_roles("admin", "gis", "planner"))]
# Who prepares projects and runs meetings.
PlannerUser = Annotated[User, Depends(require_roles("admin", "planner"))]
# Who may write observations: staff, or a device account holding only that right.
WriterUser = Annotated[User, Depends(require_roles("admin", "gis", "planner", "device"))]


def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


HubDep = Annotated[Hub, Depends(get_hub)]
