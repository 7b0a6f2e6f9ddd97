"""Live meeting screens: every change the presenter makes is pushed to the meeting's sockets.

Publishers are HTTP routes (running in a thread pool); each connected screen is an asyncio queue
on the server's loop. A screen that cannot keep up loses its oldest messages; every `state`
message carries the whole state, so the next one brings it back in step.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from typing import Any, Protocol

QUEUE_SIZE = 256


class Relay(Protocol):
    def send(self, meeting_id: int, text: str) -> bool: ...


class MeetingHub:
    def __init__(self) -> None:
        self._screens: dict[int, set[asyncio.Queue[str]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.relay: Relay | None = None  # other workers' screens, through the broker
        self._changes: dict[int, int] = defaultdict(int)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, meeting_id: int, message: dict[str, Any]) -> None:
        """Send `message` to every screen of the meeting, on every worker; any thread. It is
        encoded once here, not once per screen."""
        text = json.dumps(message, separators=(",", ":"))
        if self.relay is None or not self.relay.send(meeting_id, text):
            self.deliver(meeting_id, text)

    def deliver(self, meeting_id: int, text: str) -> None:
        """Queue an encoded message for this worker's screens of the meeting; any thread."""
        with self._lock:
            self._changes[meeting_id] += 1
        if self._loop is None or self._loop.is_closed():
            return
        with self._lock:
            queues = list(self._screens.get(meeting_id, ()))
        for queue in queues:
            self._loop.call_soon_threadsafe(_offer, queue, text)

    def changes(self, meeting_id: int) -> int:
        """How many messages this worker has seen for the meeting: a view built from the
        database is current as long as this has not moved."""
        with self._lock:
            return self._changes.get(meeting_id, 0)

    def join(self, meeting_id: int) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._screens[meeting_id].add(queue)
        return queue

    def leave(self, meeting_id: int, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            screens = self._screens.get(meeting_id)
            if screens is not None:
                screens.discard(queue)
                if not screens:
                    del self._screens[meeting_id]

    def screens(self, meeting_id: int) -> int:
        with self._lock:
            return len(self._screens.get(meeting_id, ()))


def _offer(queue: asyncio.Queue[str], text: str) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(text)
