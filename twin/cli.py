"""The `twin` command line: a thin layer over the library functions."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from twin.config import Settings
from twin.console import cli_errors, err, out, progress_bar
from twin.db import Database
from twin.errors import InputError
from twin.migrate import prepare
from twin.routing.cli import access_command, route_app
from twin.sim.cli import sim_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from twin.models import User

app = typer.Typer(help="twin: a 3D digital twin server.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
jobs_app = typer.Typer(help="List and cancel background jobs.")
layers_app = typer.Typer(help="The layer catalog.", no_args_is_help=True)
sensors_app = typer.Typer(help="Live sensors.", no_args_is_help=True)
group_app = typer.Typer(
    help="Closed user groups: a group's layers and projects are seen by its members only.",
    no_args_is_help=True,
)
member_app = typer.Typer(help="Who belongs to a group.", no_args_is_help=True)
group_app.add_typer(member_app, name="member")
app.add_typer(user_app, name="user")
app.add_typer(group_app, name="group")
app.add_typer(jobs_app, name="jobs")
app.add_typer(layers_app, name="layers")
app.add_typer(sensors_app, name="sensors")
app.add_typer(sim_app, name="sim")
app.add_typer(route_app, name="route")
app.command("access")(access_command)


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """An up-to-date database, or a clear error when it cannot be reached."""
    settings.ensure_dirs()
    db = Database(settings.resolved_database_url)
    try:
        prepare(db)
        yield db
    finally:
        db.dispose()


def _serve(settings: Settings, workers: int) -> None:
    import uvicorn

    out.print(f"twin serving at [bold]http://{settings.host}:{settings.port}[/]  (Ctrl+C stops)")
    uvicorn.run(
        "twin.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        # Live messages are small JSON: compressing each for each socket costs more CPU than
        # it saves bytes when a meeting has hundreds of screens.
        ws_per_message_deflate=False,
    )


HostOpt = Annotated[str | None, typer.Option(help="Bind address (default TWIN_HOST).")]
PortOpt = Annotated[int | None, typer.Option(help="Port (default TWIN_PORT).")]


def _settings(host: str | None = None, port: int | None = None) -> Settings:
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    return Settings(**overrides)


@app.command()
@cli_errors
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Start the server (migrates the database first)."""
    settings = _settings(host, port)
    with database(settings):
        pass
    _serve(settings, workers)


@app.command()
@cli_errors
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    serve: Annotated[bool, typer.Option(help="Start the server after loading.")] = True,
) -> None:
    """Initialise the embedded database, load the demo scene (idempotent) and serve it."""
    from twin.jobs import JobRunner

    settings = _settings(host, port)
    with database(settings) as db:
        out.print(f"database: {db.dialect} ({settings.resolved_database_url})")
        params = {
            "shared_data_dir": str(settings.shared_data_dir),
            "tiles_dir": str(settings.tiles_dir.resolve()),
        }
        with progress_bar("demo scene") as report:
            job = JobRunner(db).run_inline("demo.load", params, on_progress=report)
        if job.status != "succeeded":
            err.print(f"[bold red]error:[/] demo scene: {job.error}")
            raise typer.Exit(1)
        result = job.result or {}
        if result.get("missing_data"):
            out.print(f"[yellow]no sample data at {result['missing_data']}: empty scene[/]")
        else:
            out.print(
                f"demo scene: {len(result['added'])} layer(s) added, "
                f"{len(result['skipped'])} already loaded"
            )
        from twin.demo import load_demo_sensors, start_demo_feed

        with progress_bar("sensor history") as report:
            report(0.0, "simulated sensors of the metropolis")
            new, stored = load_demo_sensors(db)
            report(1.0, f"{stored} readings")
        out.print(f"sensors: {new} registered, {stored} readings back-filled")
        from twin.projects.demo import load_demo_project

        token = load_demo_project(db, settings.shared_data_dir)
        if token:
            out.print(
                f"demo project's public meeting: http://{settings.host}:{settings.port}/m/{token}"
            )
        if serve:
            start_demo_feed(settings, db)
    if serve:
        how = "over MQTT" if settings.mqtt_url else "over HTTP (MQTT is off: TWIN_MQTT_URL unset)"
        out.print(f"live sensor feed: the simulator sends readings {how}")
        _serve(settings, 1)


@app.command("import")
@cli_errors
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (one layer).")],
    name: Annotated[str | None, typer.Option(help="Layer name (default: from the files).")] = None,
    srs: Annotated[
        str | None, typer.Option(help="Source CRS, overriding or filling the files' own.")
    ] = None,
    layer: Annotated[
        int | None, typer.Option(help="Add a new version to this layer id instead.")
    ] = None,
    height: Annotated[
        str | None, typer.Option(help="Vector layers: height field name or metres.")
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option(help="Meshes in local coordinates: their origin X,Y,Z in the --srs CRS."),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(help="A new layer's closed user group (name or id): its members only see it."),
    ] = None,
) -> None:
    """Import files as a layer (LAS/LAZ; GeoPackage, GeoJSON, Shapefile, FlatGeobuf; OBJ, PLY,
    glTF meshes; GeoTIFF DEMs and orthophotos); prints the new layer's id."""
    from twin.importer import check_srs, collect_sources, parse_height, parse_origin
    from twin.jobs import JobRunner

    settings = Settings()
    srs = check_srs(srs)
    collect_sources(paths)  # fail before opening the database on a wrong path
    params = {
        "paths": [str(p.resolve()) for p in paths],
        "tiles_dir": str(settings.tiles_dir.resolve()),
        "name": name,
        "srs": srs,
        "layer_id": layer,
        "height": parse_height(height),
        "origin": parse_origin(origin),
    }
    with database(settings) as db:
        params["group_id"] = _group_id(db, group)
        with progress_bar("import") as report:
            job = JobRunner(db).run_inline("layers.import", params, on_progress=report)
        if job.status != "succeeded":
            err.print(f"[bold red]error:[/] import failed: {job.error}", highlight=False)
            raise typer.Exit(1)
    result = job.result or {}
    err.print(f"layer {result['layer_id']} version {result['version']}: {result['count']} items")
    print(result["layer_id"])


def _group_id(db: Database, group: str | None) -> int | None:
    from twin.groups import find_group

    if group is None:
        return None
    with db.session() as s:
        return find_group(s, group).id


@user_app.command("add")
@cli_errors
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="admin, gis, planner or public.")],
    password: Annotated[
        str | None, typer.Option(help="Password (prompted, hidden, when absent).")
    ] = None,
) -> None:
    """Create a user."""
    from twin.auth import add_user

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with database(Settings()) as db, db.session() as s:
        user = add_user(s, name, role, password)
        out.print(f"user {user.username!r} ({user.role}) created, id {user.id}")


@user_app.command("list")
@cli_errors
def user_list() -> None:
    """List users."""
    from twin.models import User

    table = Table("id", "username", "role", "active", "created")
    with database(Settings()) as db, db.session() as s:
        for u in s.scalars(select(User).order_by(User.id)):
            table.add_row(str(u.id), u.username, u.role, str(u.active), f"{u.created_at:%F %T}")
    out.print(table)


@user_app.command("token")
@cli_errors
def user_token(
    name: Annotated[str, typer.Argument(help="Username (e.g. a device account).")],
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 365,
) -> None:
    """Print a long-lived bearer token for a user, e.g. a sensor gateway (role device)."""
    from twin.auth import create_token
    from twin.errors import NotFound
    from twin.models import User

    settings = Settings()
    with database(settings) as db, db.session() as s:
        user = s.scalar(select(User).where(User.username == name))
        if user is None or not user.active:
            raise NotFound(f"no active user {name!r}")
        print(create_token(user, settings, minutes=days * 24 * 60))


@group_app.command("add")
@cli_errors
def group_add(
    name: Annotated[str, typer.Argument(help="Group name.")],
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
) -> None:
    """Create a closed user group."""
    from twin.groups import add_group

    with database(Settings()) as db, db.session() as s:
        group = add_group(s, name, description)
        out.print(f"group {group.name!r} created, id {group.id}")


@group_app.command("list")
@cli_errors
def group_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the groups and their members."""
    from twin.catalog import operator
    from twin.groups import list_groups, members

    with database(Settings()) as db, db.session() as s:
        groups = [(g, members(s, g.id)) for g in list_groups(s, operator())]
        if as_json:
            data = [
                {
                    "id": g.id,
                    "name": g.name,
                    "description": g.description,
                    "members": [
                        {"id": u.id, "username": u.username, "role": u.role} for u in people
                    ],
                }
                for g, people in groups
            ]
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return
        table = Table("id", "name", "description", "members")
        for g, people in groups:
            table.add_row(str(g.id), g.name, g.description, ", ".join(u.username for u in people))
    out.print(table)


GroupArg = Annotated[str, typer.Argument(help="Group name or id.")]
UsernameArg = Annotated[str, typer.Argument(help="Username.")]


@member_app.command("add")
@cli_errors
def member_add(group: GroupArg, username: UsernameArg) -> None:
    """Add a user to a group."""
    from twin.groups import add_member, find_group

    with database(Settings()) as db, db.session() as s:
        found, user = find_group(s, group), _user_named(s, username)
        add_member(s, found.id, user.id)
        out.print(f"{user.username!r} is a member of {found.name!r}")


@member_app.command("remove")
@cli_errors
def member_remove(group: GroupArg, username: UsernameArg) -> None:
    """Remove a user from a group."""
    from twin.groups import find_group, remove_member

    with database(Settings()) as db, db.session() as s:
        found, user = find_group(s, group), _user_named(s, username)
        remove_member(s, found.id, user.id)
        out.print(f"{user.username!r} is no longer a member of {found.name!r}")


def _user_named(session: Session, username: str) -> User:
    """A user by name, as the CLI takes it."""
    from twin.errors import NotFound
    from twin.models import User

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@sensors_app.command("simulate")
@cli_errors
def sensors_simulate(
    url: Annotated[
        str | None, typer.Option(help="Server to feed (default http://TWIN_HOST:TWIN_PORT).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="TWIN_TOKEN", help="Staff token (registers sensors, sends data)."),
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option(help="Send live readings to this broker (mqtt://host:port).")
    ] = None,
    direct: Annotated[
        bool, typer.Option(help="Write straight into the configured database (no server).")
    ] = False,
    backfill_days: Annotated[float, typer.Option(min=0, help="Days of history first.")] = 1.0,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between live rounds.")] = 60,
    rounds: Annotated[
        int | None, typer.Option(min=0, help="Live rounds, then stop (default: until Ctrl+C).")
    ] = None,
) -> None:
    """Create the metropolis's sensor set-up (10 noise, 100 waste, rivers, counters, lighting,
    air, weather) and feed it realistic readings: history first, then live."""
    import threading

    from twin.sensors.feed import DatabaseSender, HttpSender, MqttSender, backfill, live
    from twin.sensors.simulator import DEFAULT_RULES, metropolis_setup

    settings = Settings()
    sims = metropolis_setup()
    with contextlib.ExitStack() as stack:
        if direct:
            db = stack.enter_context(database(settings))
            registrar: DatabaseSender | HttpSender = DatabaseSender(db)
        else:
            if not token:
                raise InputError(
                    "give --token (or TWIN_TOKEN): a staff token, see `twin user token`"
                )
            registrar = HttpSender(url or f"http://{settings.host}:{settings.port}", token)
        new = registrar.register(sims, DEFAULT_RULES)
        err.print(f"{len(sims)} sensors ({new} new)")
        if backfill_days:
            with progress_bar("history") as report:
                stored = backfill(registrar, sims, backfill_days,
                                  progress=lambda f: report(f, "back-fill"))  # fmt: skip
            err.print(f"{stored} readings back-filled over {backfill_days:g} day(s)")
        sender = MqttSender(mqtt) if mqtt else registrar
        way = "MQTT" if mqtt else "the database" if direct else "HTTP"
        err.print(f"live: every {interval:g} s over {way} (Ctrl+C stops)")
        try:
            sent = live(sender, sims, interval, threading.Event(), rounds)
        except KeyboardInterrupt:
            sent = 0
        err.print(f"{sent} live readings sent")


@jobs_app.callback(invoke_without_command=True)
@cli_errors
def jobs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
) -> None:
    """List recent jobs (newest first)."""
    if ctx.invoked_subcommand:
        return
    from twin.models import Job

    table = Table("id", "kind", "status", "progress", "message", "created")
    with database(Settings()) as db, db.session() as s:
        for j in s.scalars(select(Job).order_by(Job.created_at.desc()).limit(limit)):
            table.add_row(
                j.id,
                j.kind,
                j.status,
                f"{j.progress:.0%}",
                j.error or j.message,
                f"{j.created_at:%F %T}",
            )
    out.print(table)


@jobs_app.command("cancel")
@cli_errors
def jobs_cancel(job_id: Annotated[str, typer.Argument(help="Job id.")]) -> None:
    """Cancel a queued or running job."""
    from twin.jobs import JobRunner

    with database(Settings()) as db:
        job = JobRunner(db).cancel(job_id)
        out.print(f"job {job.id}: {job.status} (cancel requested)")


@layers_app.command("list")
@cli_errors
def layers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the catalogued layers."""
    from twin.api.layers import layer_out
    from twin.catalog import list_layers, operator
    from twin.groups import list_groups

    with database(Settings()) as db, db.session() as s:
        layers = [layer_out(layer) for layer in list_layers(s, operator())]
        groups = {g.id: g.name for g in list_groups(s, operator())}
    if as_json:
        sys.stdout.write(json.dumps([la.model_dump(mode="json") for la in layers], indent=2))
        sys.stdout.write("\n")
        return
    table = Table("id", "name", "kind", "group", "status", "version", "tileset")
    for la in layers:
        group = groups.get(la.group_id, "") if la.group_id is not None else ""
        table.add_row(
            str(la.id), la.name, la.kind, group, la.status, str(la.version), la.tileset_url
        )
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
