"""Token login (OAuth2 password form) and who-am-I."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from twin.api.deps import CurrentUser, SessionDep, SettingsDep
from twin.api.schemas import Token, UserOut
from twin.auth import authenticate, create_token

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=Token, responses={401: {"description": "wrong credentials"}})
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    user = authenticate(session, form.username, form.password)
    return Token(access_token=create_token(user, settings))


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
