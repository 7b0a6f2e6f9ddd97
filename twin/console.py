"""What every `twin` command shares on the terminal: one-line errors and progress bars.

Its own module so that `twin.cli` and the sub-command modules it mounts (`twin.sim.cli`) can
both use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from twin.errors import TwinError

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def cli_errors(fn: F) -> F:
    """Turn domain errors into a one-line message and exit status 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TwinError as exc:
            err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except ValueError as exc:  # settings validation and friends
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress_bar(title: str) -> Iterator[Callable[[float, str], None]]:
    """A progress bar on stderr; yields the (fraction, note) callback jobs report to."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
    ) as bar:
        task = bar.add_task(title, total=1.0, note="")
        yield lambda fraction, note: bar.update(task, completed=fraction, note=note)
