"""Projects, variants (versioned), their revisions and proposed models.

Seen by staff, or by the owning group's members only; edited by planners and admins. A saved
variant is pushed at once to the screens of the project's meetings.
"""

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from twin.api.deps import CurrentUser, PlannerUser, SessionDep, SettingsDep
from twin.api.project_schemas import (
    AssetOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    RevisionOut,
    VariantAccessOut,
    VariantIn,
    VariantOut,
    VariantSave,
)
from twin.models import Group, User, utcnow
from twin.projects.assets import add_asset, asset_path, get_asset, list_assets
from twin.projects.content import VariantContent
from twin.projects.models import Meeting, Project, ProjectAsset, Variant
from twin.projects.projects import (
    VariantConflict,
    area_geojson,
    create_project,
    create_variant,
    delete_project,
    delete_variant,
    editable_project,
    get_project,
    get_revision,
    get_variant,
    list_projects,
    revisions,
    save_variant,
    update_project,
    variant_indicators,
    variants_of,
)
from twin.projects.results import attach_results

router = APIRouter(prefix="/projects", tags=["projects"])


def variant_out(session: Session, variant: Variant) -> VariantOut:
    editor = session.get(User, variant.updated_by) if variant.updated_by else None
    return VariantOut(
        id=variant.id,
        project_id=variant.project_id,
        name=variant.name,
        description=variant.description,
        position=variant.position,
        version=variant.version,
        content=variant.content,
        indicators=variant_indicators(variant),
        updated_at=variant.updated_at,
        updated_by=editor.username if editor else None,
    )


def project_out(session: Session, project: Project) -> ProjectOut:
    group = session.get(Group, project.group_id) if project.group_id else None
    return ProjectOut(
        id=project.id,
        name=project.name,
        description=project.description,
        group_id=project.group_id,
        group=group.name if group else None,
        area=area_geojson(project),
        created_at=project.created_at,
        updated_at=project.updated_at,
        variants=[variant_out(session, v) for v in variants_of(session, project.id)],
    )


def asset_out(asset: ProjectAsset, base: str) -> AssetOut:
    return AssetOut(
        id=asset.id,
        name=asset.name,
        size=asset.size,
        info=asset.info,
        url=f"{base}/{asset.id}",
        created_at=asset.created_at,
    )


def push_variant(request: Request, session: Session, variant: VariantOut) -> None:
    """Every open meeting of the project shows the saved variant at once."""
    meetings = session.scalars(
        select(Meeting.id).where(
            Meeting.project_id == variant.project_id, Meeting.expires_at > utcnow()
        )
    )
    message = {"type": "variant", "variant": variant.model_dump(mode="json")}
    for meeting_id in meetings:
        request.app.state.meetings.publish(meeting_id, message)


@router.get("", response_model=list[ProjectOut])
def read_projects(session: SessionDep, user: CurrentUser) -> list[ProjectOut]:
    return [project_out(session, p) for p in list_projects(session, user)]


@router.post("", response_model=ProjectOut, status_code=201)
def new_project(body: ProjectIn, session: SessionDep, user: PlannerUser) -> ProjectOut:
    project = create_project(session, user, body.name, body.description, body.group_id, body.area)
    return project_out(session, project)


@router.get("/{project_id}", response_model=ProjectOut)
def read_project(project_id: int, session: SessionDep, user: CurrentUser) -> ProjectOut:
    return project_out(session, get_project(session, project_id, user))


@router.patch("/{project_id}", response_model=ProjectOut)
def patch_project(
    project_id: int, body: ProjectPatch, session: SessionDep, user: PlannerUser
) -> ProjectOut:
    changes = body.model_dump(exclude_unset=True)
    return project_out(session, update_project(session, project_id, user, changes))


@router.delete("/{project_id}", status_code=204)
def remove_project(
    project_id: int, session: SessionDep, settings: SettingsDep, user: PlannerUser
) -> Response:
    delete_project(session, project_id, user)
    session.commit()  # the models go only once nothing refers to them any more
    shutil.rmtree(settings.projects_dir / str(project_id), ignore_errors=True)
    return Response(status_code=204)


@router.post("/{project_id}/variants", response_model=VariantOut, status_code=201)
def new_variant(
    project_id: int, body: VariantIn, session: SessionDep, user: PlannerUser
) -> VariantOut:
    project = get_project(session, project_id, user)
    content = attach_results(session, body.content) if body.content else None
    variant = create_variant(
        session, project, user, body.name, body.description, content, body.copy_from
    )
    return variant_out(session, variant)


@router.get("/{project_id}/variants/{variant_id}", response_model=VariantOut)
def read_variant(
    project_id: int, variant_id: int, session: SessionDep, user: CurrentUser
) -> VariantOut:
    project = get_project(session, project_id, user)
    return variant_out(session, get_variant(session, project, variant_id))


@router.put(
    "/{project_id}/variants/{variant_id}",
    response_model=VariantOut,
    responses={409: {"description": "saved by someone else since base_version; edit kept"}},
)
def put_variant(
    project_id: int,
    variant_id: int,
    body: VariantSave,
    request: Request,
    session: SessionDep,
    user: PlannerUser,
) -> VariantOut | JSONResponse:
    """Save an edit; on a conflict the answer carries the current variant and the revision
    that kept the refused edit."""
    project = get_project(session, project_id, user)
    content = attach_results(session, body.content)
    try:
        variant = save_variant(
            session,
            project,
            variant_id,
            user,
            name=body.name,
            description=body.description,
            content=content,
            base_version=body.base_version,
        )
    except VariantConflict as conflict:
        current = variant_out(session, conflict.current).model_dump(mode="json")
        session.commit()  # the refused edit is kept
        return JSONResponse(
            {"detail": conflict.message, "current": current, "kept_revision": conflict.kept.id},
            status_code=409,
        )
    out = variant_out(session, variant)
    session.commit()
    push_variant(request, session, out)
    return out


@router.delete("/{project_id}/variants/{variant_id}", status_code=204)
def remove_variant(
    project_id: int, variant_id: int, session: SessionDep, user: PlannerUser
) -> Response:
    delete_variant(session, get_project(session, project_id, user), variant_id, user)
    return Response(status_code=204)


@router.get("/{project_id}/variants/{variant_id}/revisions", response_model=list[RevisionOut])
def read_revisions(
    project_id: int, variant_id: int, session: SessionDep, user: CurrentUser
) -> list[RevisionOut]:
    variant = get_variant(session, get_project(session, project_id, user), variant_id)
    return [
        RevisionOut(
            id=r.id,
            version=r.version,
            based_on=r.based_on,
            conflict=r.conflict,
            name=r.name,
            user=name,
            created_at=r.created_at,
        )
        for r, name in revisions(session, variant)
    ]


@router.get(
    "/{project_id}/variants/{variant_id}/revisions/{revision_id}", response_model=RevisionOut
)
def read_revision(
    project_id: int, variant_id: int, revision_id: int, session: SessionDep, user: CurrentUser
) -> RevisionOut:
    variant = get_variant(session, get_project(session, project_id, user), variant_id)
    r = get_revision(session, variant, revision_id)
    author = session.get(User, r.user_id) if r.user_id else None
    return RevisionOut(
        id=r.id,
        version=r.version,
        based_on=r.based_on,
        conflict=r.conflict,
        name=r.name,
        user=author.username if author else None,
        created_at=r.created_at,
        content=r.content,
    )


@router.get("/{project_id}/variants/{variant_id}/access", response_model=VariantAccessOut)
def read_variant_access(
    project_id: int,
    variant_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    category: Annotated[str, Query(description="school, food or health")] = "school",
    minutes: Annotated[float, Query(gt=0, le=120)] = 15.0,
) -> VariantAccessOut:
    """Share of buildings (of the project's area, else of the whole street network) within
    `minutes` on foot of the category, today and with the variant's new buildings of that use;
    `indicator` is the key to attach it under."""
    from twin.api.routes import get_network
    from twin.projects.access import NotMeasurable, neighbourhood, variant_access
    from twin.routing.access import AccessOptions

    project = get_project(session, project_id, user)
    variant = get_variant(session, project, variant_id)
    content = VariantContent.model_validate(variant.content)
    indicator = f"{category}_{minutes:g}min_share"
    try:
        area = to_shape(project.area).bounds if project.area is not None else None
        bbox = area or neighbourhood(content, minutes)
        result = variant_access(
            get_network(settings), content, category, AccessOptions(minutes=minutes, bbox=bbox)
        )
    except NotMeasurable as exc:  # not the caller's mistake: the page shows why, no number
        return VariantAccessOut(
            category=category,
            minutes=minutes,
            buildings=0,
            new_amenities=0,
            share_base=None,
            share_variant=None,
            indicator=indicator,
            reason=exc.message,
        )
    return VariantAccessOut(**asdict(result), indicator=indicator)


@router.post("/{project_id}/assets", response_model=AssetOut, status_code=201)
def upload_asset(
    project_id: int,
    file: Annotated[UploadFile, File(description="a proposed building model, .glb")],
    session: SessionDep,
    settings: SettingsDep,
    user: PlannerUser,
) -> AssetOut:
    project = editable_project(session, project_id, user)
    asset = add_asset(
        session,
        settings.projects_dir,
        project,
        user,
        file.filename or "",
        file.file,
        settings.max_model_mb,
    )
    return asset_out(asset, f"/api/v1/projects/{project.id}/assets")


@router.get("/{project_id}/assets", response_model=list[AssetOut])
def read_assets(project_id: int, session: SessionDep, user: CurrentUser) -> list[AssetOut]:
    project = get_project(session, project_id, user)
    base = f"/api/v1/projects/{project.id}/assets"
    return [asset_out(a, base) for a in list_assets(session, project)]


@router.get(
    "/{project_id}/assets/{asset_id}",
    response_class=FileResponse,
    responses={200: {"content": {"model/gltf-binary": {}}}},
)
def read_asset(
    project_id: int, asset_id: str, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> FileResponse:
    asset = get_asset(session, get_project(session, project_id, user), asset_id)
    return model_file(settings.projects_dir, asset)


def model_file(projects_dir: Path, asset: ProjectAsset) -> FileResponse:
    """The GLB, private to who may see the project (never cached by shared caches)."""
    return FileResponse(
        asset_path(projects_dir, asset),
        media_type="model/gltf-binary",
        headers={"Cache-Control": "private, max-age=3600"},
    )
