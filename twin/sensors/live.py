"""Live push: a fan-out of sensor events to every connected browser (Server-Sent Events).

Publishers may be any thread (HTTP routes run in a pool, MQTT in its own thread); each
subscriber is an asyncio queue on the server's loop. A slow subscriber loses its oldest events
rather than slowing ingest down; its next `latest` event brings it up to date anyway.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

QUEUE_SIZE = 1_000


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, event: str, data: Any) -> None:
        """Queue `event` for every subscriber; safe from any thread, never blocks."""
        if self._loop is None or self._loop.is_closed():
            return
        message = f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        with self._lock:
            queues = list(self._subscribers)
        for queue in queues:
            self._loop.call_soon_threadsafe(_offer, queue, message)

    async def stream(
        self, heartbeat: float = 15.0, seconds: float | None = None
    ) -> AsyncIterator[str]:
        """An SSE body: a comment every `heartbeat` seconds keeps proxies from closing it;
        `seconds` ends it (EventSource reconnects by itself)."""
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds if seconds is not None else None
        with self._lock:
            self._subscribers.add(queue)
        try:
            yield "retry: 3000\n: connected\n\n"
            while deadline is None or loop.time() < deadline:
                wait = heartbeat if deadline is None else min(heartbeat, deadline - loop.time())
                try:
                    yield await asyncio.wait_for(queue.get(), max(wait, 0))
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            with self._lock:
                self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def _offer(queue: asyncio.Queue[str], message: str) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)
