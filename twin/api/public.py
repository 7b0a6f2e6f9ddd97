"""The citizens' side of a meeting: no account, the link's token is the only key.

Rate-limited per client (nothing about the client is stored); a robot filling the hidden
`website` field is answered like anyone else and its comment dropped.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from twin.api.deps import SessionDep, SettingsDep
from twin.api.project_schemas import (
    CommentAccepted,
    CommentIn,
    CommentOut,
    PublicMeetingOut,
    PublicProject,
    VoteIn,
    VotesOut,
)
from twin.api.projects import model_file, variant_out
from twin.errors import NotFound
from twin.models import utcnow
from twin.projects.assets import get_asset
from twin.projects.meetings import NOT_FOUND, add_comment, by_token, comments, tallies, vote
from twin.projects.models import Meeting, Project
from twin.projects.projects import area_geojson, variants_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/public/meetings", tags=["public meetings"])
KEEPALIVE_S = 25.0


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limited(bucket: str, setting: str) -> Callable[[Request], None]:
    """A dependency counting the caller against `bucket`'s per-minute limit (429 past it)."""

    def check(request: Request) -> None:
        limit = getattr(request.app.state.settings, setting)
        request.app.state.limiter.check(bucket, client_of(request), limit)

    return check


Read = Annotated[None, Depends(limited("public reads", "public_reads_per_minute"))]
Write = Annotated[None, Depends(limited("comments and votes", "public_writes_per_minute"))]


@dataclass(frozen=True)
class _View:
    built: float
    meeting_id: int
    changes: int
    expires_at: datetime
    body: PublicMeetingOut


# A crowd opening the link within seconds shares one build of the page's data. Every change
# citizens must see at once (a step, a saved variant, an approved comment, votes) is a meeting
# message, which moves `MeetingHub.changes` and retires the view; others (a new title) show
# within VIEW_TTL_S.
VIEW_TTL_S = 2.0
VIEWS_KEPT = 1_000
_views: dict[str, _View] = {}


@router.get("/{token}", response_model=PublicMeetingOut)
def read_public_meeting(
    token: str, request: Request, session: SessionDep, _: Read
) -> PublicMeetingOut:
    hub = request.app.state.meetings
    view = _views.get(token)
    if (
        view is not None
        and time.monotonic() - view.built < VIEW_TTL_S
        and hub.changes(view.meeting_id) == view.changes
        and view.expires_at > utcnow()
    ):
        return view.body
    meeting, project = by_token(session, token)
    changes = hub.changes(meeting.id)
    session.refresh(meeting)  # read after the count: a message arriving now retires the view
    body = _build(session, meeting, project)
    if len(_views) >= VIEWS_KEPT:
        _views.pop(next(iter(_views)))
    _views[token] = _View(time.monotonic(), meeting.id, changes, meeting.expires_at, body)
    return body


def _build(session: Session, meeting: Meeting, project: Project) -> PublicMeetingOut:
    return PublicMeetingOut(
        title=meeting.title,
        project=PublicProject(
            name=project.name, description=project.description, area=area_geojson(project)
        ),
        variants=[variant_out(session, v) for v in variants_of(session, project.id)],
        bookmarks=meeting.bookmarks,
        state=meeting.state,
        state_version=meeting.state_version,
        comments=[CommentOut.model_validate(c) for c in comments(session, meeting, "approved")],
        votes=tallies(session, meeting),
        comments_open=meeting.comments_open,
        expires_at=meeting.expires_at,
    )


@router.post("/{token}/comments", response_model=CommentAccepted, status_code=202)
def post_comment(
    token: str, body: CommentIn, request: Request, session: SessionDep, _: Write
) -> CommentAccepted:
    """A comment waits for a planner's approval before anyone else sees it; the presenter's
    screen is told one is waiting (its id only)."""
    meeting, _project = by_token(session, token)
    if body.website:
        log.warning("comment dropped on meeting %d: the robot trap field was filled", meeting.id)
        return CommentAccepted(id=None, status="pending")
    comment = add_comment(
        session,
        meeting,
        body.text,
        lon=body.lon,
        lat=body.lat,
        height=body.height,
        variant_id=body.variant_id,
    )
    session.commit()
    request.app.state.meetings.publish(meeting.id, {"type": "pending", "id": comment.id})
    return CommentAccepted(id=comment.id, status="pending")


@router.post("/{token}/votes", response_model=VotesOut)
def post_vote(
    token: str, body: VoteIn, request: Request, session: SessionDep, _: Write
) -> VotesOut:
    meeting, _project = by_token(session, token)
    votes = vote(session, meeting, body.variant_id, body.voter)
    session.commit()
    request.app.state.meetings.publish(meeting.id, {"type": "votes", "votes": votes})
    return VotesOut(votes=votes)


@router.get(
    "/{token}/assets/{asset_id}",
    response_class=FileResponse,
    responses={200: {"content": {"model/gltf-binary": {}}}},
)
def read_public_asset(
    token: str, asset_id: str, session: SessionDep, settings: SettingsDep, _: Read
) -> FileResponse:
    _meeting, project = by_token(session, token)
    return model_file(settings.projects_dir, get_asset(session, project, asset_id))


@router.websocket("/{token}/live")
async def live(websocket: WebSocket, token: str) -> None:
    """Every screen of the meeting: `hello` with the current state, then each change."""
    app = websocket.app

    def lookup() -> tuple[int, dict[str, Any], int]:
        with app.state.db.session() as session:
            meeting, _project = by_token(session, token)
            return meeting.id, dict(meeting.state), meeting.state_version

    await websocket.accept()
    try:
        meeting_id, state, version = await run_in_threadpool(lookup)
    except NotFound:
        await websocket.close(code=4404, reason=NOT_FOUND)
        return
    hub = app.state.meetings
    queue = hub.join(meeting_id)
    try:
        await websocket.send_json({"type": "hello", "state": state, "state_version": version})
        await _relay(websocket, queue)
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(meeting_id, queue)


async def _relay(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    """Send queued messages (and a ping when idle) until the screen goes away."""
    closed = asyncio.create_task(_until_closed(websocket))
    try:
        while not closed.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait(
                {getter, closed}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done:
                await websocket.send_text(getter.result())
            else:
                getter.cancel()
                if not closed.done():
                    await websocket.send_json({"type": "ping"})
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await closed


async def _until_closed(websocket: WebSocket) -> None:
    """Screens only listen; anything they send is ignored, their leaving ends the relay."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
