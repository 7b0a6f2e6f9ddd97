"""Meeting messages between server workers, through the MQTT broker.

Behind several workers the presenter's request and a citizen's socket may land on different
processes. When a broker is configured each worker sends meeting messages to the broker
(`twin/meetings/<id>/events`) instead of straight to its own sockets, and delivers to its own
sockets whatever the broker sends back, so every screen of every worker gets every message once.
Without a broker, or while it is unreachable, messages go to this worker's sockets directly.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from twin.projects.live import MeetingHub
from twin.sensors.mqtt import parse_url

log = logging.getLogger(__name__)
TOPIC = "twin/meetings/{}/events"
SUBSCRIPTION = "twin/meetings/+/events"


class MqttRelay:
    def __init__(self, url: str, hub: MeetingHub) -> None:
        self.host, self.port, user, password = parse_url(url)
        self.hub = hub
        self.connected = False
        # A fresh, clean session per worker: live screens need no history.
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"twin-meetings-{uuid.uuid4().hex[:12]}"
        )
        if user:
            self._client.username_pw_set(user, password)
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        self.hub.relay = self

    def stop(self) -> None:
        self.hub.relay = None
        self._client.disconnect()
        self._client.loop_stop()

    def send(self, meeting_id: int, text: str) -> bool:
        """Hand the message to the broker; False when it cannot (the caller delivers locally)."""
        if not self.connected:
            return False
        info = self._client.publish(TOPIC.format(meeting_id), text, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("meeting relay: broker %s:%d refused us: %s", self.host, self.port, reason)
            return
        client.subscribe(SUBSCRIPTION, qos=1)
        self.connected = True

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected = False
        log.warning("meeting relay: broker lost (%s); messages stay on this worker", reason)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            meeting_id = int(message.topic.split("/")[2])
            text = message.payload.decode()
        except (IndexError, ValueError) as exc:
            log.warning("meeting relay: ignored a message on %s (%s)", message.topic, exc)
            return
        self.hub.deliver(meeting_id, text)
