"""User administration (admin role only)."""

from fastapi import APIRouter
from sqlalchemy import select

from twin.api.deps import AdminUser, SessionDep
from twin.api.schemas import UserIn, UserOut
from twin.auth import add_user
from twin.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserOut])
def list_users(session: SessionDep, _: AdminUser) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: SessionDep, _: AdminUser) -> UserOut:
    return UserOut.model_validate(add_user(session, body.username, body.role, body.password))
