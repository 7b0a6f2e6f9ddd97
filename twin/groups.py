"""Closed user groups: who belongs where, and the one visibility rule every route applies.

A thing owned by a group (a project, a layer) is seen by the group's members and by admins, and
by no one else; to everyone else it does not exist (404, never 403, so ids cannot be probed).
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from twin.errors import Conflict, InputError, NotFound
from twin.models import Group, GroupMember, User


def member_groups(session: Session, user: User | None) -> set[int]:
    """Ids of the groups `user` belongs to (none for an anonymous caller)."""
    if user is None:
        return set()
    return set(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user.id)))


def sees_group(session: Session, user: User | None, group_id: int | None) -> bool:
    """Whether `user` may see what `group_id` owns; None means "no group": not closed."""
    if group_id is None or (user is not None and user.role == "admin"):
        return True
    return group_id in member_groups(session, user)


def group_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise InputError("group name must be 1 to 120 characters")
    return name


def add_group(session: Session, name: str, description: str = "") -> Group:
    name = group_name(name)
    if session.scalar(select(Group).where(Group.name == name)) is not None:
        raise Conflict(f"group {name!r} already exists")
    group = Group(name=name, description=description.strip())
    session.add(group)
    session.flush()
    return group


def update_group(
    session: Session, group_id: int, name: str | None, description: str | None
) -> Group:
    group = get_group(session, group_id)
    if name is not None:
        name = group_name(name)
        clash = session.scalar(select(Group).where(Group.name == name, Group.id != group_id))
        if clash is not None:
            raise Conflict(f"group {name!r} already exists")
        group.name = name
    if description is not None:
        group.description = description.strip()
    session.flush()
    return group


def get_group(session: Session, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    return group


def find_group(session: Session, name_or_id: str) -> Group:
    """A group by id or by name, as the CLI takes it."""
    group = session.get(Group, int(name_or_id)) if name_or_id.isdigit() else None
    group = group or session.scalar(select(Group).where(Group.name == name_or_id.strip()))
    if group is None:
        raise NotFound(f"group {name_or_id!r} not found")
    return group


def list_groups(session: Session, user: User) -> list[Group]:
    """Admins see every group; others the groups they belong to."""
    query = select(Group).order_by(Group.name)
    if user.role != "admin":
        query = query.where(Group.id.in_(member_groups(session, user)))
    return list(session.scalars(query))


def members(session: Session, group_id: int) -> list[User]:
    query = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.username)
    )
    return list(session.scalars(query))


def add_member(session: Session, group_id: int, user_id: int) -> None:
    get_group(session, group_id)
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    if session.get(GroupMember, (group_id, user_id)) is None:
        session.add(GroupMember(group_id=group_id, user_id=user_id))
        session.flush()


def remove_member(session: Session, group_id: int, user_id: int) -> None:
    get_group(session, group_id)
    session.execute(
        delete(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)
    )


def delete_group(session: Session, group_id: int) -> None:
    """Refused while the group still owns something: its layers or projects would otherwise
    become visible to everyone, which is the one thing a closed group must never do."""
    from twin.models import Layer
    from twin.projects.models import Project

    group = get_group(session, group_id)
    for model, what in ((Layer, "layers"), (Project, "projects")):
        owned = session.scalar(select(model.id).where(model.group_id == group_id).limit(1))
        if owned is not None:
            raise Conflict(f"group {group.name!r} still owns {what}: move or delete them first")
    session.delete(group)
