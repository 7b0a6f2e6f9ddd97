"""Public meetings: bookmarks, the presenter's live state, the public link, comments, votes.

The public link is the meeting's capability: an unguessable token, valid until it expires.
Unknown and expired links get the same answer, so a guesser learns nothing, and each refusal
is logged. Citizens are anonymous: a comment stores its text and where it was pinned, a vote a
hash of a random id the browser made up; no name, address or IP is kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from twin.errors import Conflict, InputError, NotFound
from twin.models import User, utcnow
from twin.projects.content import Camera
from twin.projects.models import COMMENT_STATES, Comment, Meeting, Project, Variant, Vote
from twin.projects.projects import editable_project, get_project, require_editor

log = logging.getLogger(__name__)
MAX_COMMENT = 1_000
DUPLICATE_WINDOW = timedelta(minutes=30)
MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!?]|javascript:", re.IGNORECASE)
VOTER = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NOT_FOUND = "meeting link not found or expired"


class Bookmark(BaseModel):
    """One step of the presentation: where to look, which variant, which layers."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(max_length=200)] = ""
    camera: Camera
    variant_id: int | None = None
    layers: Annotated[list[int], Field(max_length=200)] = []
    duration_s: Annotated[float, Field(gt=0, le=600)] | None = None


class MeetingState(BaseModel):
    """What the presenter shows now; followers mirror it."""

    model_config = ConfigDict(extra="forbid")

    bookmark: Annotated[int, Field(ge=0)] | None = None
    variant_id: int | None = None
    compare_variant_id: int | None = None
    camera: Camera | None = None
    moved: dict[str, Any] | None = None

    def check_size(self) -> None:
        if self.moved is not None and len(str(self.moved)) > 4_000:
            raise InputError("state.moved is larger than 4,000 characters")


def _variant_ids(session: Session, project_id: int) -> set[int]:
    return set(session.scalars(select(Variant.id).where(Variant.project_id == project_id)))


def _check_bookmarks(session: Session, project: Project, bookmarks: list[Bookmark]) -> None:
    if len(bookmarks) > 200:
        raise InputError("a meeting has at most 200 bookmarks")
    known = _variant_ids(session, project.id)
    for i, bookmark in enumerate(bookmarks):
        if bookmark.variant_id is not None and bookmark.variant_id not in known:
            raise InputError(
                f"bookmarks[{i}]: variant {bookmark.variant_id} is not in this project"
            )


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > 200:
        raise InputError("meeting title must be 1 to 200 characters")
    return title


def create_meeting(
    session: Session,
    project_id: int,
    user: User,
    title: str,
    expires_days: float,
    bookmarks: list[Bookmark],
) -> Meeting:
    project = editable_project(session, project_id, user)
    _check_bookmarks(session, project, bookmarks)
    meeting = Meeting(
        project_id=project.id,
        title=_title(title),
        token=secrets.token_urlsafe(24),
        expires_at=utcnow() + timedelta(days=expires_days),
        comments_open=True,
        bookmarks=[b.model_dump(mode="json") for b in bookmarks],
        state={},
        state_version=0,
        created_by=user.id,
    )
    session.add(meeting)
    session.flush()
    return meeting


def list_meetings(session: Session, project_id: int, user: User) -> list[Meeting]:
    project = get_project(session, project_id, user)
    query = select(Meeting).where(Meeting.project_id == project.id).order_by(Meeting.id)
    return list(session.scalars(query))


def get_meeting(session: Session, meeting_id: int, user: User) -> tuple[Meeting, Project]:
    """A meeting its project's visibility lets `user` see (404 otherwise)."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"meeting {meeting_id} not found")
    try:
        project = get_project(session, meeting.project_id, user)
    except NotFound:
        raise NotFound(f"meeting {meeting_id} not found") from None
    return meeting, project


def presenter_meeting(session: Session, meeting_id: int, user: User) -> tuple[Meeting, Project]:
    meeting, project = get_meeting(session, meeting_id, user)
    require_editor(user)
    return meeting, project


def update_meeting(
    session: Session, meeting_id: int, user: User, changes: dict[str, Any]
) -> Meeting:
    meeting, project = presenter_meeting(session, meeting_id, user)
    if "title" in changes:
        meeting.title = _title(changes["title"] or "")
    if changes.get("bookmarks") is not None:
        bookmarks = [Bookmark.model_validate(b) for b in changes["bookmarks"]]
        _check_bookmarks(session, project, bookmarks)
        meeting.bookmarks = [b.model_dump(mode="json") for b in bookmarks]
    if changes.get("comments_open") is not None:
        meeting.comments_open = bool(changes["comments_open"])
    if changes.get("expires_days") is not None:
        meeting.expires_at = utcnow() + timedelta(days=changes["expires_days"])
    session.flush()
    return meeting


def set_state(session: Session, meeting_id: int, user: User, state: MeetingState) -> Meeting:
    """The presenter moved on: store it (a screen joining later starts there) and count it."""
    meeting, project = presenter_meeting(session, meeting_id, user)
    state.check_size()
    known = _variant_ids(session, project.id)
    for field in ("variant_id", "compare_variant_id"):
        value = getattr(state, field)
        if value is not None and value not in known:
            raise InputError(f"{field}: variant {value} is not in this project")
    if state.bookmark is not None and state.bookmark >= len(meeting.bookmarks):
        raise InputError(f"bookmark {state.bookmark}: the meeting has {len(meeting.bookmarks)}")
    # One UPDATE with the increment in SQL: two presenters' moves at once get two versions.
    session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id)
        .values(state=state.model_dump(mode="json"), state_version=Meeting.state_version + 1)
    )
    session.refresh(meeting)
    return meeting


def by_token(session: Session, token: str) -> tuple[Meeting, Project]:
    """The meeting a public link opens; unknown and expired links look the same."""
    meeting = session.scalar(select(Meeting).where(Meeting.token == token)) if token else None
    if meeting is None or meeting.expires_at <= utcnow():
        log.warning(
            "public meeting link refused (%s, token %.6s…)",
            "expired" if meeting else "unknown",
            token,
        )
        raise NotFound(NOT_FOUND)
    return meeting, session.get_one(Project, meeting.project_id)


def clean_comment(text: str) -> str:
    """Plain text only: control characters dropped, markup refused rather than stored."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C").strip()
    if not text:
        raise InputError("text: the comment is empty")
    if len(text) > MAX_COMMENT:
        raise InputError(f"text: {len(text)} characters; at most {MAX_COMMENT}")
    if MARKUP.search(text):
        raise InputError("text: comments are plain text; markup such as <script> is not accepted")
    return text


def add_comment(
    session: Session,
    meeting: Meeting,
    text: str,
    *,
    lon: float | None,
    lat: float | None,
    height: float | None,
    variant_id: int | None,
) -> Comment:
    if not meeting.comments_open:
        raise Conflict("comments are closed for this meeting")
    text = clean_comment(text)
    if (lon is None) != (lat is None):
        raise InputError("lon and lat: give both or neither")
    if variant_id is not None and variant_id not in _variant_ids(session, meeting.project_id):
        raise InputError(f"variant_id: variant {variant_id} is not in this meeting's project")
    recent = select(Comment.id).where(
        Comment.meeting_id == meeting.id,
        Comment.text == text,
        Comment.created_at > utcnow() - DUPLICATE_WINDOW,
    )
    if session.scalar(recent.limit(1)) is not None:
        raise Conflict("this comment has already been sent")
    comment = Comment(
        meeting_id=meeting.id,
        variant_id=variant_id,
        text=text,
        lon=lon,
        lat=lat,
        height=height,
        status="pending",
    )
    session.add(comment)
    session.flush()
    return comment


def comments(session: Session, meeting: Meeting, status: str | None = None) -> list[Comment]:
    query = select(Comment).where(Comment.meeting_id == meeting.id)
    if status is not None:
        if status not in COMMENT_STATES:
            raise InputError(f"status {status!r} is not one of {', '.join(COMMENT_STATES)}")
        query = query.where(Comment.status == status)
    return list(session.scalars(query.order_by(Comment.created_at, Comment.id)))


def comment_counts(session: Session, meeting: Meeting) -> dict[str, int]:
    query = (
        select(Comment.status, func.count())
        .where(Comment.meeting_id == meeting.id)
        .group_by(Comment.status)
    )
    counts = dict.fromkeys(COMMENT_STATES, 0)
    counts.update({status: n for status, n in session.execute(query)})
    return counts


def moderate(
    session: Session, meeting: Meeting, comment_id: int, user: User, status: str
) -> Comment:
    require_editor(user)
    comment = session.get(Comment, comment_id)
    if comment is None or comment.meeting_id != meeting.id:
        raise NotFound(f"comment {comment_id} not found in meeting {meeting.id}")
    if status not in ("approved", "rejected"):
        raise InputError("status must be 'approved' or 'rejected'")
    comment.status, comment.moderated_at, comment.moderated_by = status, utcnow(), user.id
    session.flush()
    return comment


def vote(session: Session, meeting: Meeting, variant_id: int, voter: str) -> dict[str, int]:
    """One vote per browser: a second vote from the same one changes it."""
    if not VOTER.match(voter):
        raise InputError("voter: 16 to 64 letters, digits, '-' or '_' (a random id)")
    if variant_id not in _variant_ids(session, meeting.project_id):
        raise InputError(f"variant_id: variant {variant_id} is not in this meeting's project")
    digest = hashlib.sha256(f"{meeting.id}:{voter}".encode()).hexdigest()
    existing = session.scalar(
        select(Vote).where(Vote.meeting_id == meeting.id, Vote.voter == digest)
    )
    if existing is None:
        session.add(Vote(meeting_id=meeting.id, variant_id=variant_id, voter=digest))
    else:
        existing.variant_id = variant_id
    session.flush()
    return tallies(session, meeting)


def tallies(session: Session, meeting: Meeting) -> dict[str, int]:
    query = (
        select(Vote.variant_id, func.count())
        .where(Vote.meeting_id == meeting.id)
        .group_by(Vote.variant_id)
    )
    return {str(variant_id): n for variant_id, n in session.execute(query)}
