"""Live push of sensor events to browsers, as Server-Sent Events (EventSource in the page)."""

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from twin.api.deps import HubDep

router = APIRouter(tags=["sensors"])


@router.get(
    "/stream",
    summary="Live events: `latest` (newest readings) and `alert` (opened, changed, closed)",
    response_class=StreamingResponse,
)
async def stream(
    hub: HubDep,
    seconds: float | None = Query(None, gt=0, le=86_400, description="close after this long"),
) -> StreamingResponse:
    return StreamingResponse(
        hub.stream(seconds=seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
