"""Projects and their variants: visibility, edits with optimistic versioning, revisions.

A variant's every saved version is kept as a revision. An edit based on a version that is no
longer current is refused (409) but stored too, as a revision marked `conflict`: two planners
editing the same variant never lose each other's work; the second one sees what changed and
re-applies or restores.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import mapping, shape
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from twin.errors import Conflict, InputError, NotFound, PermissionDenied
from twin.groups import member_groups, sees_group
from twin.models import User, utcnow
from twin.projects.content import VariantContent, indicators
from twin.projects.models import Project, Variant, VariantRevision

STAFF = ("admin", "gis", "planner")
INDICATOR_CACHE = 2_048
_INDICATORS: dict[bytes, dict[str, Any]] = {}
_INDICATORS_LOCK = threading.Lock()
EDITORS = ("admin", "planner")


class VariantConflict(Conflict):
    """An edit on a stale version: carries the current variant and the revision that kept it."""

    def __init__(self, message: str, current: Variant, kept: VariantRevision) -> None:
        super().__init__(message)
        self.current = current
        self.kept = kept


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InputError(f"{what} must be 1 to {limit} characters")
    return value


def parse_area(area: dict[str, Any] | None) -> Any:
    """A GeoJSON Polygon in WGS84 as a stored geometry (None clears it)."""
    if area is None:
        return None
    try:
        polygon = shape(area)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"area: not a GeoJSON geometry ({exc})") from exc
    if polygon.geom_type != "Polygon":
        raise InputError(f"area: a Polygon is needed, not a {polygon.geom_type}")
    if not polygon.is_valid:
        raise InputError("area: the polygon is invalid (self-intersecting?)")
    w, s, e, n = polygon.bounds
    if not (w >= -180 and e <= 180 and s >= -90 and n <= 90):
        raise InputError("area: coordinates must be WGS84 longitude, latitude in degrees")
    return from_shape(polygon, srid=4326)


def area_geojson(project: Project) -> dict[str, Any] | None:
    return mapping(to_shape(project.area)) if project.area is not None else None


def can_see(session: Session, user: User | None, project: Project) -> bool:
    """Group projects: members and admins; others: staff."""
    if project.group_id is not None:
        return sees_group(session, user, project.group_id)
    return user is not None and user.role in STAFF


def get_project(session: Session, project_id: int, user: User | None) -> Project:
    project = session.get(Project, project_id)
    if project is None or not can_see(session, user, project):
        raise NotFound(f"project {project_id} not found")
    return project


def editable_project(session: Session, project_id: int, user: User) -> Project:
    project = get_project(session, project_id, user)
    require_editor(user)
    return project


def require_editor(user: User) -> None:
    if user.role not in EDITORS:
        raise PermissionDenied("editing projects needs the planner or admin role")


def list_projects(session: Session, user: User) -> list[Project]:
    query = select(Project).order_by(Project.updated_at.desc(), Project.id.desc())
    if user.role != "admin":
        groups = member_groups(session, user)
        open_ = Project.group_id.is_(None) if user.role in STAFF else None
        closed = Project.group_id.in_(groups) if groups else None
        allowed = [c for c in (open_, closed) if c is not None]
        if not allowed:
            return []
        query = query.where(or_(*allowed))
    return list(session.scalars(query))


def _check_group(session: Session, user: User, group_id: int | None) -> None:
    """A project may only be given to a group its author belongs to (any, for an admin)."""
    if group_id is not None and not (
        user.role == "admin" or group_id in member_groups(session, user)
    ):
        raise NotFound(f"group {group_id} not found")


def create_project(
    session: Session,
    user: User,
    name: str,
    description: str = "",
    group_id: int | None = None,
    area: dict[str, Any] | None = None,
) -> Project:
    require_editor(user)
    _check_group(session, user, group_id)
    project = Project(
        name=_text(name, "project name", 200),
        description=description.strip(),
        group_id=group_id,
        area=parse_area(area),
        created_by=user.id,
    )
    session.add(project)
    session.flush()
    return project


def update_project(
    session: Session, project_id: int, user: User, changes: dict[str, Any]
) -> Project:
    project = editable_project(session, project_id, user)
    if "name" in changes:
        project.name = _text(changes["name"] or "", "project name", 200)
    if "description" in changes:
        project.description = (changes["description"] or "").strip()
    if "area" in changes:
        project.area = parse_area(changes["area"])
    if "group_id" in changes:
        _check_group(session, user, changes["group_id"])
        project.group_id = changes["group_id"]
    project.updated_at = func.now()  # type: ignore[assignment]
    session.flush()
    session.refresh(project)
    return project


def delete_project(session: Session, project_id: int, user: User) -> None:
    session.delete(editable_project(session, project_id, user))


def variants_of(session: Session, project_id: int) -> list[Variant]:
    query = select(Variant).where(Variant.project_id == project_id)
    return list(session.scalars(query.order_by(Variant.position, Variant.id)))


def get_variant(session: Session, project: Project, variant_id: int) -> Variant:
    variant = session.get(Variant, variant_id)
    if variant is None or variant.project_id != project.id:
        raise NotFound(f"variant {variant_id} not found in project {project.id}")
    return variant


def _revision(
    variant: Variant,
    user: User,
    *,
    based_on: int | None = None,
    conflict: bool = False,
    version: int | None = None,
    name: str | None = None,
    content: dict[str, Any] | None = None,
) -> VariantRevision:
    return VariantRevision(
        variant_id=variant.id,
        version=version if version is not None else variant.version,
        based_on=based_on,
        conflict=conflict,
        name=name if name is not None else variant.name,
        content=content if content is not None else variant.content,
        user_id=user.id,
    )


def create_variant(
    session: Session,
    project: Project,
    user: User,
    name: str,
    description: str = "",
    content: VariantContent | None = None,
    copy_from: int | None = None,
) -> Variant:
    require_editor(user)
    if copy_from is not None:
        source = get_variant(session, project, copy_from)
        body = source.content
        description = description or source.description
    else:
        body = (content or VariantContent()).model_dump(mode="json")
    position = session.scalar(
        select(func.coalesce(func.max(Variant.position) + 1, 0)).where(
            Variant.project_id == project.id
        )
    )
    variant = Variant(
        project_id=project.id,
        name=_text(name, "variant name", 200),
        description=description.strip(),
        position=position or 0,
        version=1,
        content=body,
        updated_by=user.id,
    )
    session.add(variant)
    session.flush()
    session.add(_revision(variant, user))
    project.updated_at = func.now()  # type: ignore[assignment]
    session.flush()
    return variant


def save_variant(
    session: Session,
    project: Project,
    variant_id: int,
    user: User,
    *,
    name: str,
    description: str,
    content: VariantContent,
    base_version: int,
) -> Variant:
    """Save an edit made on `base_version`; refused (and kept) when someone saved since."""
    require_editor(user)
    variant = get_variant(session, project, variant_id)
    body = content.model_dump(mode="json")
    name = _text(name, "variant name", 200)
    # Saved only if still at `base_version`, checked and written in one UPDATE: two planners
    # saving at the same instant cannot both win.
    saved = session.execute(
        update(Variant)
        .where(Variant.id == variant.id, Variant.version == base_version)
        .values(
            name=name,
            description=description.strip(),
            content=body,
            version=base_version + 1,
            updated_by=user.id,
            updated_at=utcnow(),
        )
    )
    session.refresh(variant)
    if saved.rowcount != 1:
        kept = _revision(
            variant,
            user,
            based_on=base_version,
            conflict=True,
            version=variant.version,
            name=name,
            content=body,
        )
        session.add(kept)
        session.flush()
        raise VariantConflict(
            f"variant {variant.id} ({variant.name}) was saved as version {variant.version} "
            f"since your version {base_version}: your edit is kept as revision {kept.id}; "
            "reload the current version and apply it again",
            variant,
            kept,
        )
    session.add(_revision(variant, user, based_on=base_version))
    project.updated_at = func.now()  # type: ignore[assignment]
    session.flush()
    return variant


def delete_variant(session: Session, project: Project, variant_id: int, user: User) -> None:
    require_editor(user)
    session.delete(get_variant(session, project, variant_id))


def revisions(session: Session, variant: Variant) -> list[tuple[VariantRevision, str | None]]:
    query = (
        select(VariantRevision, User.username)
        .outerjoin(User, User.id == VariantRevision.user_id)
        .where(VariantRevision.variant_id == variant.id)
        .order_by(VariantRevision.id)
    )
    return [(r, name) for r, name in session.execute(query)]


def get_revision(session: Session, variant: Variant, revision_id: int) -> VariantRevision:
    revision = session.get(VariantRevision, revision_id)
    if revision is None or revision.variant_id != variant.id:
        raise NotFound(f"revision {revision_id} not found for variant {variant.id}")
    return revision


def variant_indicators(variant: Variant) -> dict[str, Any]:
    """Indicators of stored content, computed once per distinct content: a public meeting
    reads every variant on every page load, and recomputing them cost ~9 ms each."""
    key = hashlib.blake2b(
        json.dumps(variant.content, sort_keys=True, separators=(",", ":")).encode(), digest_size=16
    ).digest()
    found = _INDICATORS.get(key)
    if found is None:
        found = indicators(VariantContent.model_validate(variant.content))
        with _INDICATORS_LOCK:
            if len(_INDICATORS) >= INDICATOR_CACHE:
                _INDICATORS.pop(next(iter(_INDICATORS)))
            _INDICATORS[key] = found
    return dict(found)
