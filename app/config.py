"""The service's settings: one typed, bounded object read from `LABLEDGER_*` and `.env`.

Bad values fail at start-up with a message naming the setting (see `load_settings`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "LABLEDGER_"

SecretList = Annotated[list[SecretStr], NoDecode]
TextList = Annotated[list[str], NoDecode]
ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class SettingsError(Exception):
    """A setting has a bad value; the message names the environment variable."""


class Settings(BaseSettings):
    """Every knob of the service, with its default and its bounds."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite:///./labledger.db",
        min_length=1,
        description="SQLAlchemy URL (SQLite file, or postgresql+psycopg://...)",
    )
    migrate_on_start: bool = Field(
        default=False,
        description="Apply database migrations when the service starts (on in `make run`).",
    )
    http_host: str = Field(default="127.0.0.1", min_length=1, description="HTTP bind address.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="HTTP port.")
    public_dashboard: bool = Field(
        default=False, description="Serve the public (pseudonymous) dashboard without a key."
    )
    assets_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "node_modules",
        description="Where `npm ci` put the browser libraries (charts, API docs pages).",
    )
    display_locale: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
        description="Locale the pages write money and numbers in (e.g. en, de_DE, fr_FR).",
    )
    session_lifetime_s: int = Field(
        default=12 * 3600, ge=300, le=30 * 86400, description="How long a browser login lasts."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log records written."
    )

    badge_debounce_s: float = Field(
        default=5.0, ge=0, le=300, description="A repeat of the same scan within this is ignored."
    )
    attribution_grace_s: float = Field(
        default=600.0,
        ge=0,
        le=86400,
        description="A badge-in this soon after a run started claims the run.",
    )
    max_session_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=7 * 86400,
        description="A machine session longer than this is closed at it and flagged for review.",
    )
    door_max_session_s: int = Field(
        default=12 * 3600,
        ge=60,
        le=7 * 86400,
        description="A door (presence) session longer than this is closed and flagged.",
    )
    redelivery_window_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="A copy of a message without id or time within this is a redelivery.",
    )

    interlock_confirm_s: float = Field(
        default=5.0,
        ge=0.2,
        le=300,
        description="How long a power command waits for the relay's confirmation before a retry.",
    )
    interlock_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Sends of one power command before it is marked failed for review.",
    )

    mqtt_enabled: bool = Field(default=True, description="Connect to the MQTT broker at all.")
    mqtt_host: str = Field(default="localhost", min_length=1, description="MQTT broker host.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="MQTT broker port.")
    mqtt_username: str | None = Field(default=None, description="MQTT user name.")
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password.")
    mqtt_tls: bool = Field(default=False, description="Use TLS to the broker.")
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA bundle for the broker's certificate (system CAs if unset)."
    )
    mqtt_client_id: ClientId = Field(
        default="labledger-1", description="Fixed MQTT client id of this replica."
    )
    mqtt_shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description=(
            "Shared-subscription group for replicas without ingest slots "
            "(LABLEDGER_INGEST_SLOTS=0); with slots it is not used: each slot subscribes plainly."
        ),
    )
    mqtt_session_expiry_s: int = Field(
        default=86400, ge=0, le=2**32 - 1, description="MQTT 5 session expiry (s)."
    )
    ingest_slots: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "MQTT sessions (client ids <client id>-slot<i>) leased among replicas through the "
            "database; 0 = one session with the client id as given, no leasing."
        ),
    )
    ingest_lease_ttl_s: float = Field(
        default=10.0,
        ge=2,
        le=300,
        description="A dead replica's ingest slots are taken over after this (s).",
    )

    stripe_webhook_secrets: SecretList = Field(
        default_factory=list, description="Stripe endpoint secrets, comma-separated (rotation)."
    )
    shopify_webhook_secrets: SecretList = Field(
        default_factory=list, description="Shopify app secrets, comma-separated (rotation)."
    )
    woocommerce_webhook_secrets: SecretList = Field(
        default_factory=list, description="WooCommerce webhook secrets, comma-separated."
    )
    generic_webhook_secrets: SecretList = Field(
        default_factory=list, description="Secrets for the generic HMAC webhook, comma-separated."
    )
    checkpoint_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key (from `labledger ledger keygen`) that signs ledger checkpoints; "
        "unset: no checkpoints.",
    )
    checkpoint_interval_s: int = Field(
        default=300, ge=5, le=86_400, description="Seconds between checks for a new ledger head."
    )
    checkpoint_file: Path | None = Field(
        default=None, description="Append each signed checkpoint to this JSON Lines file."
    )
    checkpoint_topic: str = Field(
        default="lab/v1/ledger/checkpoint",
        min_length=1,
        max_length=200,
        pattern=r"^[^#+]+$",
        description="Retained MQTT topic each signed checkpoint is published to.",
    )

    max_body_webhook_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body a shop webhook may send (413 beyond).",
    )
    max_body_api_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body of any other route (413 beyond).",
    )
    unauth_write_burst: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Refused unauthenticated writes one source may make before it is slowed.",
    )
    unauth_write_per_minute: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Refused unauthenticated writes per minute one source earns back.",
    )
    serial_network_allow: TextList = Field(
        default_factory=list,
        description="Hosts a network serial target (socket://, rfc2217://) may name.",
    )
    cors_origins: TextList = Field(
        default_factory=list,
        description="Browser origins allowed to call the API cross-site (none by default).",
    )

    @field_validator(
        "stripe_webhook_secrets",
        "shopify_webhook_secrets",
        "woocommerce_webhook_secrets",
        "generic_webhook_secrets",
        "serial_network_allow",
        "cors_origins",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Accept `a,b` from the environment as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("serial_network_allow")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        """Host names or addresses only, compared in lower case."""
        for host in value:
            if not re.fullmatch(r"[A-Za-z0-9.:_\[\]-]{1,253}", host):
                raise ValueError(f"{host!r} is not a host name or address")
        return [host.lower().strip("[]") for host in value]

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Each origin is scheme://host[:port], without a path; `*` is refused."""
        for origin in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(f"{origin!r} is not an origin like https://lab.example.org")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        """Only the two databases the project is tested on."""
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL: write sqlite:///path/to/file.db or "
                "postgresql+psycopg://user:password@host/database"
            ) from None
        return value


def load_settings() -> Settings:
    """Read the settings, turning a validation failure into a message per bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def setting_names() -> list[str]:
    """Every environment variable the settings read."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]


def unknown_variable_warnings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> list[str]:
    """A warning for each `LABLEDGER_*` variable no setting reads, with the nearest valid name."""
    environ = os.environ if environ is None else environ
    seen: dict[str, str] = {name: "the environment" for name in environ}
    if env_file is not None and env_file.is_file():
        for name in dotenv_values(env_file):
            seen.setdefault(name, str(env_file))
    valid = setting_names()
    warnings = []
    for name, where in sorted(seen.items()):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() in valid:
            continue
        suffix = name.upper().removeprefix(ENV_PREFIX)
        nearest = difflib.get_close_matches(
            suffix, [v.removeprefix(ENV_PREFIX) for v in valid], n=1, cutoff=0.6
        )
        hint = f"; did you mean {ENV_PREFIX}{nearest[0]}?" if nearest else "; it is ignored"
        warnings.append(f"{name} (in {where}) is not a LabLedger setting{hint}")
    return warnings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
