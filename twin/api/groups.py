"""Closed user groups: admins manage them and their members; members see their own."""

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from twin.api.deps import AdminUser, CurrentUser, SessionDep
from twin.api.project_schemas import GroupIn, GroupOut, GroupPatch, MemberOut
from twin.groups import (
    add_group,
    add_member,
    delete_group,
    list_groups,
    members,
    remove_member,
    update_group,
)
from twin.models import Group

router = APIRouter(prefix="/groups", tags=["groups"])


def group_out(session: Session, group: Group) -> GroupOut:
    people = [MemberOut.model_validate(u) for u in members(session, group.id)]
    return GroupOut(id=group.id, name=group.name, description=group.description, members=people)


@router.get("", response_model=list[GroupOut])
def read_groups(session: SessionDep, user: CurrentUser) -> list[GroupOut]:
    return [group_out(session, g) for g in list_groups(session, user)]


@router.post("", response_model=GroupOut, status_code=201)
def create_group(body: GroupIn, session: SessionDep, user: AdminUser) -> GroupOut:
    return group_out(session, add_group(session, body.name, body.description))


@router.patch("/{group_id}", response_model=GroupOut)
def patch_group(group_id: int, body: GroupPatch, session: SessionDep, user: AdminUser) -> GroupOut:
    return group_out(session, update_group(session, group_id, body.name, body.description))


@router.delete("/{group_id}", status_code=204)
def remove_group(group_id: int, session: SessionDep, user: AdminUser) -> Response:
    delete_group(session, group_id)
    return Response(status_code=204)


@router.put("/{group_id}/members/{user_id}", status_code=204)
def put_member(group_id: int, user_id: int, session: SessionDep, user: AdminUser) -> Response:
    add_member(session, group_id, user_id)
    return Response(status_code=204)


@router.delete("/{group_id}/members/{user_id}", status_code=204)
def delete_member(group_id: int, user_id: int, session: SessionDep, user: AdminUser) -> Response:
    remove_member(session, group_id, user_id)
    return Response(status_code=204)
