"""One table from exceptions to JSON error answers: every error has a clear `detail`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError

from twin.db import first_line
from twin.errors import AuthenticationError, TwinError

log = logging.getLogger(__name__)


def _where(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "request"


async def twin_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TwinError)
    # Every refusal is logged with what was asked, so probing and abuse leave a trace.
    log.info("refused %s %s: %d %s", request.method, request.url.path, exc.status_code, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 with a one-line summary first, then the field-by-field list."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    summary = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": summary, "errors": errors}, status_code=422)


async def database_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("database error: %s", exc)
    if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
        return JSONResponse(
            {"detail": f"database unavailable, try again shortly ({first_line(exc)})"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return await unexpected_error(_, exc)


async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TwinError, twin_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
