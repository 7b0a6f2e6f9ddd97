"""Settings, read once from the environment / `.env` (prefix `TWIN_`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public, so refused in production; 32+ bytes so even development tokens use a full-size HS256 key.
DEV_SECRET = "development-only-insecure-secret-change-me"
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable about one twin server; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: a SpatiaLite file in data_dir. "
        "A postgresql+psycopg:// URL selects PostGIS.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    secret_key: str = DEV_SECRET
    token_minutes: int = 12 * 60
    job_workers: int = 2
    dask_scheduler: str | None = Field(
        default=None,
        pattern=r"^([a-z]+://)?[^/\s]+:\d+$",
        description="Dask scheduler (tcp://host:8786) whose workers run background jobs; "
        "unset or unreachable: the local process pool",
    )
    max_upload_mb: int = 4096
    max_model_mb: int = Field(default=50, gt=0, description="proposed building models (GLB)")
    public_writes_per_minute: int = Field(
        default=10, gt=0, description="citizens' comments and votes per client and minute"
    )
    public_reads_per_minute: int = Field(
        default=240, gt=0, description="public meeting reads per client and minute"
    )
    shared_data_dir: Path = REPO_ROOT.parent / "shared" / "data"
    web_dir: Path = REPO_ROOT / "web"
    osm_file: Path | None = Field(
        default=None,
        description="street network for routes and accessibility (OSM .pbf/.osm/.osm.gz); "
        "default: the Monaco extract of the shared data, when present",
    )
    routing_dem: str | None = Field(
        default=None, description="DEM (path or GDAL name) for route slopes; default: beside it"
    )
    mqtt_url: str | None = Field(
        default=None, description="mqtt://[user:password@]host[:port]; unset: MQTT ingest off"
    )
    mqtt_client_id: str = "twin-ingest"
    sensor_check_seconds: float = Field(
        default=60.0, gt=0, description="how often silent sensors are looked for"
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        """A production server signing tokens with the public dev secret would be open to all."""
        if self.environment == "production" and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "TWIN_SECRET_KEY must be a private value of at least 32 characters in production"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'twin.sqlite').resolve()}"

    @property
    def tiles_dir(self) -> Path:
        """Tile store: one immutable folder per layer version."""
        return self.data_dir / "tiles"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def projects_dir(self) -> Path:
        """Projects' uploaded models, one folder per project."""
        return self.data_dir / "projects"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.tiles_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
