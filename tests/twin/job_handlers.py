"""Job handlers used by the job-runner tests; imported by name in spawned worker processes."""

from __future__ import annotations

import time
from pathlib import Path

from twin.jobs import JobContext


def count(ctx: JobContext, steps: int, delay: float, marker: str) -> dict[str, int]:
    """Counts to `steps`, writing each step to `marker` so a test can see work done so far."""
    for i in range(steps):
        ctx.progress(i / steps, f"step {i}")
        Path(marker).write_text(str(i))
        time.sleep(delay)
    return {"counted": steps}


def boom(ctx: JobContext) -> None:
    ctx.progress(0.5, "about to fail")
    raise RuntimeError("the input file is corrupt at byte 42")
