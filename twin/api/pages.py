"""The viewer's pages: one jinja2 template each, CesiumJS served by the app itself (no CDN, no
ion). The project pages (compare, meeting presenter, public meeting link) are plain shells: their
scripts read the API (staff token or the link's token), so a bad link is told in the page."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from twin import __version__

router = APIRouter(include_in_schema=False)

# Aix-Marseille-Provence, west, south, east, north (degrees).
HOME_VIEW = (5.0, 43.2, 5.8, 43.7)
CESIUM = "/static/cesium"


def _page(request: Request, template: str, **context: object) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {"home": list(HOME_VIEW), "version": __version__, "cesium": CESIUM, **context},
    )


@router.get("/", response_class=HTMLResponse)
def viewer(request: Request) -> HTMLResponse:
    return _page(request, "index.html")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """The sensors dashboard: figures, charts, tables and downloads, public and live."""
    return request.app.state.templates.TemplateResponse(
        request, "dashboard.html", {"version": __version__}
    )


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request) -> HTMLResponse:
    """Two variants of a project side by side (?project=&a=&b=), cameras in step (staff)."""
    return _page(request, "compare.html")


@router.get("/meeting/{meeting_id}", response_class=HTMLResponse)
def meeting(request: Request, meeting_id: int) -> HTMLResponse:
    """The presenter's page of a public meeting, for a projector (staff: signed in by the page)."""
    return _page(request, "meeting.html", mode="presenter", meeting_id=meeting_id, token=None)


@router.get("/m/{token}", response_class=HTMLResponse)
def public_meeting(request: Request, token: str) -> HTMLResponse:
    """The citizens' page of a meeting: follows the presenter, takes comments and votes."""
    return _page(request, "meeting.html", mode="public", meeting_id=None, token=token[:200])
