"""API shapes of groups, projects, variants, meetings and citizens' comments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin.projects.content import VariantContent
from twin.projects.meetings import MAX_COMMENT, Bookmark

Text200 = Annotated[str, Field(max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str


class GroupOut(BaseModel):
    id: int
    name: str
    description: str
    members: list[MemberOut]


class GroupIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Description = ""


class GroupPatch(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    description: Description | None = None


class VariantOut(BaseModel):
    id: int
    project_id: int
    name: str
    description: str
    position: int
    version: int
    content: dict[str, Any]
    indicators: dict[str, Any]
    updated_at: datetime
    updated_by: str | None


class ProjectOut(BaseModel):
    id: int
    name: str
    description: str
    group_id: int | None
    group: str | None
    area: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    variants: list[VariantOut]


class ProjectIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Description = ""
    group_id: int | None = None
    area: dict[str, Any] | None = Field(None, description="GeoJSON Polygon, WGS84")


class ProjectPatch(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Description | None = None
    group_id: int | None = None
    area: dict[str, Any] | None = None


class VariantIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Description = ""
    content: VariantContent | None = None
    copy_from: int | None = Field(None, description="start as a copy of this variant")


class VariantSave(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Description = ""
    content: VariantContent
    base_version: int = Field(description="the version this edit started from")


class RevisionOut(BaseModel):
    id: int
    version: int
    based_on: int | None
    conflict: bool
    name: str
    user: str | None
    created_at: datetime
    content: dict[str, Any] | None = None


class VariantAccessOut(BaseModel):
    category: str
    minutes: float
    buildings: int
    new_amenities: int
    share_base: float | None
    share_variant: float | None
    indicator: str
    reason: str | None = Field(None, description="why the shares are null: not measurable here")


class AssetOut(BaseModel):
    id: str
    name: str
    size: int
    info: dict[str, Any]
    url: str
    created_at: datetime


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    text: str
    lon: float | None
    lat: float | None
    height: float | None
    variant_id: int | None
    status: str
    created_at: datetime


class MeetingOut(BaseModel):
    id: int
    project_id: int
    title: str
    token: str
    public_url: str
    live_url: str
    expires_at: datetime
    comments_open: bool
    bookmarks: list[dict[str, Any]]
    state: dict[str, Any]
    state_version: int
    created_at: datetime
    comment_counts: dict[str, int]


class MeetingIn(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    expires_days: Annotated[float, Field(gt=0, le=365)] = 30
    bookmarks: Annotated[list[Bookmark], Field(max_length=200)] = []


class MeetingPatch(BaseModel):
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    bookmarks: Annotated[list[Bookmark], Field(max_length=200)] | None = None
    comments_open: bool | None = None
    expires_days: Annotated[float, Field(gt=0, le=365)] | None = None


class StateOut(BaseModel):
    state: dict[str, Any]
    state_version: int


class Moderation(BaseModel):
    status: Literal["approved", "rejected"]


class PublicProject(BaseModel):
    name: str
    description: str
    area: dict[str, Any] | None


class PublicMeetingOut(BaseModel):
    title: str
    project: PublicProject
    variants: list[VariantOut]
    bookmarks: list[dict[str, Any]]
    state: dict[str, Any]
    state_version: int
    comments: list[CommentOut]
    votes: dict[str, int]
    comments_open: bool
    expires_at: datetime


class CommentIn(BaseModel):
    # Longer texts get the domain's clear message rather than a bare schema error.
    text: Annotated[str, Field(max_length=MAX_COMMENT * 4)]
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    height: Annotated[float, Field(ge=-500, le=10_000)] | None = None
    variant_id: int | None = None
    website: str = Field("", description="leave empty (a trap for robots)")


class CommentAccepted(BaseModel):
    id: int | None
    status: Literal["pending"]


class VoteIn(BaseModel):
    variant_id: int
    voter: Annotated[str, Field(min_length=16, max_length=64)]


class VotesOut(BaseModel):
    votes: dict[str, int]
