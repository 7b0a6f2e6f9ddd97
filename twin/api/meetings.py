"""Meetings, seen from the presenter's side: bookmarks, live state, moderation, exports."""

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from twin.api.deps import CurrentUser, PlannerUser, SessionDep
from twin.api.project_schemas import (
    CommentOut,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    Moderation,
    StateOut,
)
from twin.projects.comment_export import to_csv, to_geojson
from twin.projects.meetings import (
    MeetingState,
    comment_counts,
    comments,
    create_meeting,
    get_meeting,
    list_meetings,
    moderate,
    presenter_meeting,
    set_state,
    update_meeting,
)
from twin.projects.models import Meeting
from twin.projects.projects import variants_of

router = APIRouter(tags=["meetings"])
PUBLIC = "/api/v1/public/meetings"


def meeting_out(session: Session, meeting: Meeting) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        project_id=meeting.project_id,
        title=meeting.title,
        token=meeting.token,
        public_url=f"/m/{meeting.token}",
        live_url=f"{PUBLIC}/{meeting.token}/live",
        expires_at=meeting.expires_at,
        comments_open=meeting.comments_open,
        bookmarks=meeting.bookmarks,
        state=meeting.state,
        state_version=meeting.state_version,
        created_at=meeting.created_at,
        comment_counts=comment_counts(session, meeting),
    )


@router.post("/projects/{project_id}/meetings", response_model=MeetingOut, status_code=201)
def new_meeting(
    project_id: int, body: MeetingIn, session: SessionDep, user: PlannerUser
) -> MeetingOut:
    meeting = create_meeting(
        session, project_id, user, body.title, body.expires_days, body.bookmarks
    )
    return meeting_out(session, meeting)


@router.get("/projects/{project_id}/meetings", response_model=list[MeetingOut])
def read_meetings(project_id: int, session: SessionDep, user: CurrentUser) -> list[MeetingOut]:
    return [meeting_out(session, m) for m in list_meetings(session, project_id, user)]


@router.get("/meetings/{meeting_id}", response_model=MeetingOut)
def read_meeting(meeting_id: int, session: SessionDep, user: CurrentUser) -> MeetingOut:
    return meeting_out(session, get_meeting(session, meeting_id, user)[0])


@router.patch("/meetings/{meeting_id}", response_model=MeetingOut)
def patch_meeting(
    meeting_id: int, body: MeetingPatch, session: SessionDep, user: PlannerUser
) -> MeetingOut:
    changes = body.model_dump(exclude_unset=True, mode="json")
    return meeting_out(session, update_meeting(session, meeting_id, user, changes))


@router.delete("/meetings/{meeting_id}", status_code=204)
def remove_meeting(meeting_id: int, session: SessionDep, user: PlannerUser) -> Response:
    session.delete(presenter_meeting(session, meeting_id, user)[0])
    return Response(status_code=204)


@router.post("/meetings/{meeting_id}/state", response_model=StateOut)
def post_state(
    meeting_id: int, body: MeetingState, request: Request, session: SessionDep, user: PlannerUser
) -> StateOut:
    """The presenter's move, stored then pushed to every screen of the meeting."""
    meeting = set_state(session, meeting_id, user, body)
    out = StateOut(state=meeting.state, state_version=meeting.state_version)
    session.commit()
    request.app.state.meetings.publish(meeting.id, {"type": "state", **out.model_dump()})
    return out


@router.get("/meetings/{meeting_id}/comments", response_model=list[CommentOut])
def read_comments(
    meeting_id: int,
    session: SessionDep,
    user: CurrentUser,
    status: Literal["pending", "approved", "rejected"] | None = None,
) -> list[CommentOut]:
    meeting, _ = get_meeting(session, meeting_id, user)
    return [CommentOut.model_validate(c) for c in comments(session, meeting, status)]


@router.post("/meetings/{meeting_id}/comments/{comment_id}/moderate", response_model=CommentOut)
def moderate_comment(
    meeting_id: int,
    comment_id: int,
    body: Moderation,
    request: Request,
    session: SessionDep,
    user: PlannerUser,
) -> CommentOut:
    """Approved comments become public, and appear at once on every screen."""
    meeting, _ = presenter_meeting(session, meeting_id, user)
    out = CommentOut.model_validate(moderate(session, meeting, comment_id, user, body.status))
    session.commit()
    kind = "comment" if out.status == "approved" else "comment_removed"
    message = {"type": kind, "comment": out.model_dump(mode="json")}
    request.app.state.meetings.publish(meeting.id, message)
    return out


@router.get("/meetings/{meeting_id}/comments/export")
def export_comments(
    meeting_id: int,
    session: SessionDep,
    user: CurrentUser,
    format: Literal["csv", "geojson"] = Query("csv"),
) -> Response:
    meeting, project = get_meeting(session, meeting_id, user)
    names = {v.id: v.name for v in variants_of(session, project.id)}
    rows = comments(session, meeting)
    filename = f"meeting-{meeting.id}-comments"
    if format == "csv":
        body, media = to_csv(rows, names), "text/csv; charset=utf-8"
    else:
        body, media = to_geojson(rows, names), "application/geo+json"
    disposition = f'attachment; filename="{filename}.{format}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
