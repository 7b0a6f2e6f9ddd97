"""The flood simulator's errors. Bad input is refused before any computing starts; a run that
diverges stops itself. Both are `ValueError`s (so callers that only know the standard library can
catch them) and `twin.errors` errors (so the API's one handler maps them to HTTP codes)."""

from __future__ import annotations

from twin.errors import InputError, TwinError


class FloodInputError(InputError, ValueError):
    """A scenario input we cannot use: the message says which one and why."""


class FloodDivergedError(TwinError, ValueError):
    """The run produced non-finite or absurd depths and was stopped; nothing was written."""

    status_code = 422
