"""Meetings: the public link, live screens over WebSocket, citizens' comments through
moderation, votes, exports, and the refusals (bad links, markup, spam, floods of requests)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.twin.test_projects import new_project, new_variant, school

API = "/api/v1"
CAMERA = {"lon": 5.4474, "lat": 43.5263, "height": 600, "heading": 0, "pitch": -40, "roll": 0}


@pytest.fixture
def meeting(client: TestClient, auth: dict[str, dict[str, str]]) -> dict:
    """A project with two variants and a meeting stepping through them."""
    project = new_project(client, auth["planner"])
    pid = project["id"]
    a = new_variant(
        client, auth["planner"], pid, name="École 3 étages", content={"footprints": [school(9.0)]}
    )
    b = new_variant(
        client, auth["planner"], pid, name="École 5 étages", content={"footprints": [school(15.0)]}
    )
    bookmarks = [
        {"title": "Vue d'ensemble", "camera": CAMERA, "variant_id": a["id"]},
        {"title": "Variante B", "camera": CAMERA, "variant_id": b["id"], "duration_s": 8},
    ]
    r = client.post(
        f"{API}/projects/{pid}/meetings",
        json={"title": "Réunion publique", "bookmarks": bookmarks},
        headers=auth["planner"],
    )
    assert r.status_code == 201, r.text
    return {**r.json(), "variants": [a, b], "pid": pid}


def public(meeting: dict) -> str:
    return f"{API}/public/meetings/{meeting['token']}"


def test_public_link_shows_the_scene_without_an_account(client: TestClient, meeting: dict) -> None:
    r = client.get(public(meeting))
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Réunion publique" and body["project"]["name"] == "Quartier Sextius"
    assert [v["name"] for v in body["variants"]] == ["École 3 étages", "École 5 étages"]
    assert body["variants"][1]["indicators"]["floor_area_m2"] == pytest.approx(5_000, rel=1e-3)
    assert len(body["bookmarks"]) == 2 and body["comments"] == [] and body["votes"] == {}
    assert meeting["public_url"] == f"/m/{meeting['token']}" and len(meeting["token"]) >= 32


def test_guessed_and_expired_links_get_the_same_404(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]], caplog
) -> None:
    guessed = f"{API}/public/meetings/{meeting['token'][:-1]}x"
    r = client.get(guessed)
    assert r.status_code == 404 and r.json()["detail"] == "meeting link not found or expired"
    from twin.models import utcnow
    from twin.projects.models import Meeting

    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        s.get(Meeting, meeting["id"]).expires_at = utcnow() - timedelta(seconds=1)
    r = client.get(public(meeting))
    assert r.status_code == 404 and r.json()["detail"] == "meeting link not found or expired"
    assert client.post(f"{public(meeting)}/comments", json={"text": "hello"}).status_code == 404
    assert any("public meeting link refused (expired" in m for m in caplog.messages)
    # Extending the meeting brings the same link back.
    r = client.patch(
        f"{API}/meetings/{meeting['id']}", json={"expires_days": 1}, headers=auth["planner"]
    )
    assert r.status_code == 200 and client.get(public(meeting)).status_code == 200


def test_comments_are_public_only_after_moderation(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]]
) -> None:
    vid = meeting["variants"][0]["id"]
    pin = {"lon": 5.4471, "lat": 43.5262, "height": 210.5, "variant_id": vid}
    r = client.post(f"{public(meeting)}/comments", json={"text": "Trop haut pour la rue", **pin})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    cid = r.json()["id"]
    assert client.get(public(meeting)).json()["comments"] == []
    pending = client.get(
        f"{API}/meetings/{meeting['id']}/comments?status=pending", headers=auth["planner"]
    ).json()
    assert [(c["id"], c["text"], c["height"]) for c in pending] == [
        (cid, "Trop haut pour la rue", 210.5)
    ]
    moderate = f"{API}/meetings/{meeting['id']}/comments/{cid}/moderate"
    assert (
        client.post(moderate, json={"status": "approved"}, headers=auth["gis"]).status_code == 403
    )
    r = client.post(moderate, json={"status": "approved"}, headers=auth["planner"])
    assert r.status_code == 200 and r.json()["status"] == "approved"
    shown = client.get(public(meeting)).json()["comments"]
    assert [(c["text"], c["lon"], c["variant_id"]) for c in shown] == [
        ("Trop haut pour la rue", 5.4471, vid)
    ]
    counts = client.get(f"{API}/meetings/{meeting['id']}", headers=auth["planner"]).json()
    assert counts["comment_counts"] == {"pending": 0, "approved": 1, "rejected": 0}


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        ({"text": "<script>alert(1)</script>"}, 400, "plain text"),
        ({"text": "voir <img src=x onerror=alert(1)>"}, 400, "plain text"),
        ({"text": "x" * 1001}, 400, "at most 1000"),
        ({"text": "   \u0000 "}, 400, "empty"),
        ({"text": "ici", "lon": 5.4}, 400, "both or neither"),
        ({"text": "ici", "variant_id": 999999}, 400, "not in this meeting"),
        ({"text": "ici", "lat": 95, "lon": 5}, 422, "lat"),
    ],
)
def test_bad_comments_are_refused_clearly(
    client: TestClient, meeting: dict, body: dict, status: int, why: str
) -> None:
    r = client.post(f"{public(meeting)}/comments", json=body)
    assert r.status_code == status and why in r.json()["detail"], r.text


def test_robots_and_repeats_store_nothing(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]]
) -> None:
    r = client.post(
        f"{public(meeting)}/comments", json={"text": "buy now", "website": "spam.example"}
    )
    assert r.status_code == 202 and r.json()["id"] is None  # answered like anyone, dropped
    assert (
        client.post(
            f"{public(meeting)}/comments", json={"text": "Une piste cyclable ?"}
        ).status_code
        == 202
    )
    again = client.post(f"{public(meeting)}/comments", json={"text": "Une piste cyclable ?"})
    assert again.status_code == 409 and "already been sent" in again.json()["detail"]
    all_ = client.get(f"{API}/meetings/{meeting['id']}/comments", headers=auth["planner"]).json()
    assert [c["text"] for c in all_] == ["Une piste cyclable ?"]
    client.patch(
        f"{API}/meetings/{meeting['id']}", json={"comments_open": False}, headers=auth["planner"]
    )
    closed = client.post(f"{public(meeting)}/comments", json={"text": "trop tard"})
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]


def test_public_writes_are_rate_limited(client: TestClient, meeting: dict) -> None:
    client.app.state.settings.public_writes_per_minute = 3  # type: ignore[attr-defined]
    codes = [
        client.post(f"{public(meeting)}/comments", json={"text": f"avis {i}"}).status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    r = client.post(f"{public(meeting)}/comments", json={"text": "encore"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "per minute" in r.json()["detail"]


def test_one_vote_per_browser_which_it_may_change(client: TestClient, meeting: dict) -> None:
    a, b = (str(v["id"]) for v in meeting["variants"])
    url = f"{public(meeting)}/votes"
    assert client.post(url, json={"variant_id": int(a), "voter": "x" * 20}).json()["votes"] == {
        a: 1
    }
    assert client.post(url, json={"variant_id": int(a), "voter": "y" * 20}).json()["votes"] == {
        a: 2
    }
    assert client.post(url, json={"variant_id": int(b), "voter": "y" * 20}).json()["votes"] == {
        a: 1,
        b: 1,
    }
    r = client.post(url, json={"variant_id": int(a), "voter": "bad voter id !!"})
    assert r.status_code in (400, 422)
    assert client.get(public(meeting)).json()["votes"] == {a: 1, b: 1}


def test_export_comments_csv_and_geojson(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]]
) -> None:
    texts = ['=HYPERLINK("http://x")', "Plus d'arbres, s'il vous plaît"]
    for i, text in enumerate(texts):
        client.post(
            f"{public(meeting)}/comments",
            json={"text": text, "lon": 5.447 + i / 1000, "lat": 43.526},
        )
    url = f"{API}/meetings/{meeting['id']}/comments/export"
    rows = list(csv.DictReader(io.StringIO(client.get(url, headers=auth["planner"]).text)))
    assert [r["text"] for r in rows] == ["'" + texts[0], texts[1]]  # no formula runs
    assert {r["status"] for r in rows} == {"pending"}
    geo = json.loads(client.get(f"{url}?format=geojson", headers=auth["gis"]).text)
    assert geo["features"][1]["geometry"]["coordinates"] == [5.448, 43.526]
    assert geo["features"][1]["properties"]["text"] == texts[1]
    assert client.get(url).status_code == 401


def test_screens_follow_the_presenter_live(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]]
) -> None:
    """Two screens on the public link: the presenter's step, a saved variant and an approved
    comment reach both; a late screen starts from the current state."""
    live = f"{public(meeting)}/live"
    b = meeting["variants"][1]
    with client.websocket_connect(live) as first, client.websocket_connect(live) as second:
        for screen in (first, second):
            hello = screen.receive_json()
            assert hello == {"type": "hello", "state": {}, "state_version": 0}
        r = client.post(
            f"{API}/meetings/{meeting['id']}/state",
            json={"bookmark": 1, "variant_id": b["id"], "camera": CAMERA},
            headers=auth["planner"],
        )
        assert r.status_code == 200 and r.json()["state_version"] == 1
        for screen in (first, second):
            step = screen.receive_json()
            assert step["type"] == "state" and step["state_version"] == 1
            assert step["state"]["bookmark"] == 1 and step["state"]["variant_id"] == b["id"]
        edit = {"name": b["name"], "content": {"footprints": [school(21.0)]}, "base_version": 1}
        url = f"{API}/projects/{meeting['pid']}/variants/{b['id']}"
        assert client.put(url, json=edit, headers=auth["planner"]).status_code == 200
        moved = first.receive_json()
        assert moved["type"] == "variant" and moved["variant"]["version"] == 2
        assert moved["variant"]["content"]["footprints"][0]["height"] == 21.0
        cid = client.post(f"{public(meeting)}/comments", json={"text": "Et le parking ?"}).json()[
            "id"
        ]
        assert first.receive_json() == {"type": "pending", "id": cid}
        client.post(
            f"{API}/meetings/{meeting['id']}/comments/{cid}/moderate",
            json={"status": "approved"},
            headers=auth["planner"],
        )
        approved = first.receive_json()
        assert approved["type"] == "comment" and approved["comment"]["text"] == "Et le parking ?"
    with client.websocket_connect(live) as late:
        assert late.receive_json()["state"]["bookmark"] == 1


def test_live_link_refuses_a_bad_token(client: TestClient, meeting: dict) -> None:
    with (
        client.websocket_connect(f"{API}/public/meetings/nope/live") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4404


def test_state_refers_to_this_project_only(
    client: TestClient, meeting: dict, auth: dict[str, dict[str, str]]
) -> None:
    url = f"{API}/meetings/{meeting['id']}/state"
    r = client.post(url, json={"variant_id": 999999}, headers=auth["planner"])
    assert r.status_code == 400 and "not in this project" in r.json()["detail"]
    r = client.post(url, json={"bookmark": 5}, headers=auth["planner"])
    assert r.status_code == 400 and "has 2" in r.json()["detail"]
