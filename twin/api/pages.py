"""The viewer page: one jinja2 template, CesiumJS served by the app itself (no CDN, no ion)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from twin import __version__

router = APIRouter(include_in_schema=False)

# Aix-Marseille-Provence, west, south, east, north (degrees).
HOME_VIEW = (5.0, 43.2, 5.8, 43.7)


@router.get("/", response_class=HTMLResponse)
def viewer(request: Request) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request,
        "index.html",
        {"home": list(HOME_VIEW), "version": __version__, "cesium": "/static/cesium"},
    )


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """The sensors dashboard: figures, charts, tables and downloads, public and live."""
    return request.app.state.templates.TemplateResponse(
        request, "dashboard.html", {"version": __version__}
    )
