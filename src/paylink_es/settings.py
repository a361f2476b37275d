"""Settings: one object, built from PAYLINK_* variables when a process starts.

Secrets are :class:`SecretStr` (their repr is stars; the database URL shows no password),
and a validation error never echoes what it was given. Reading a setting touches nothing:
the stores create their directories when they are opened (:mod:`paylink_es.store.sqlite`).
In production a process refuses to start with a secret everyone knows or one the code
would invent (:meth:`Settings.live_secret_problems`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# What an earlier version used as everyone's sandbox secret: it is public, so production
# refuses it.
PUBLIC_SANDBOX_SECRET: Final = "sandbox-callback-secret"  # noqa: S105 (refused, not used)
# The shortest PAYLINK_SECRET_KEY production accepts (sessions and CSRF tokens hang on it).
MIN_SECRET_KEY_LENGTH: Final = 32
SECRETS: Final = (
    "smtp_password",
    "sms_gateway_token",
    "whatsapp_token",
    "secret_key",
    "sandbox_secret",
    "winpay_private_key",
    "winpay_client_secret",
)


class Settings(BaseSettings):
    """Everything a Paylink process can be told from outside."""

    model_config = SettingsConfigDict(
        env_prefix="PAYLINK_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db; unset means SQLite files in data_dir",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema for the tables (created if missing)"
    )
    data_dir: Path = Field(default=Path("var"), description="Where SQLite files live")
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = Field(default=None, description="Public URL; default http://host:port")
    environment: Literal["development", "production"] = "development"
    # -- PostgreSQL connections (every connection a process opens; see ARCHITECTURE) -----
    postgres_pool_size: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Most connections one process opens for its shared pool (the event store,"
        " every read model, the webhook sender); it keeps one when idle",
    )
    postgres_pool_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="Longest a request waits for a pooled connection; then 503",
    )
    postgres_connect_timeout_s: int = Field(
        default=5, ge=1, le=60, description="Seconds PostgreSQL has to accept a new connection"
    )
    postgres_statement_timeout_s: float = Field(
        default=15.0,
        ge=0,
        description="Longest one statement may run (the server cancels it; the client gives"
        " up 2 s later when no answer comes at all); 0: no limit",
    )
    postgres_lock_timeout_s: int = Field(
        default=5, ge=1, description="Longest a statement waits for a lock (the server's)"
    )
    postgres_application_name: str = Field(
        default="paylink",
        max_length=63,
        description="application_name of the process's connections (pg_stat_activity);"
        " serve says paylink-serve, projections run paylink-projections",
    )
    command_retries: int = Field(default=20, ge=1, description="Tries on write conflicts")
    method_minimums: dict[str, int] | None = Field(
        default=None,
        description=(
            "The least each method takes, in rupiah, by method code or family (JSON), over "
            "the channels' published limits: virtual_account 10000, qris 1500, ewallet 100, "
            "card 5000, retail 10000"
        ),
    )
    idempotency_lease_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long an Idempotency-Key's unanswered request holds the key before a "
        "retry may run it again (sooner when the log shows its command was stored)",
    )
    crash_at: str | None = Field(
        default=None,
        description="Fault injection for crash tests: 'point[:n]' kills the process with "
        "SIGKILL the n-th time (default 1st) it reaches that named point; unset in production",
    )
    run_projections: bool = Field(
        default=True,
        description="serve keeps the read models up to date in-process; turn off when "
        "'paylink projections run' does it in a process of its own",
    )
    workers: int = Field(default=1, ge=1, le=32, description="HTTP worker processes for serve")
    group_commit: bool = Field(
        default=True, description="Coalesce concurrent commands into one write (one commit)"
    )
    rate_limit_per_s: float = Field(
        default=100.0, ge=0, description="Sustained requests per second per API key; 0 = off"
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="Requests a key may burst")
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db shared by every node: the rate limits hold across"
        " the cluster; unset means each node limits on its own",
    )
    redis_key_prefix: str = Field(
        default="paylink",
        min_length=1,
        max_length=64,
        description="Prefix of the rate limiter's Redis keys (environments sharing a Redis)",
    )
    redis_timeout_s: float = Field(
        default=0.25,
        gt=0,
        le=5,
        description="Longest a request waits for Redis before its node's own limit decides",
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request body")
    read_wait_s: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="Longest a query waits for its read models to reach the caller's last write"
        " (Paylink-Min-Position, else the key's last Paylink-Position); then it answers with"
        " Paylink-Stale: true",
    )
    batch_max_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest file of bulk links (POST /v1/links/batch, the dashboard's upload)",
    )
    # -- notifications (send a link by e-mail, SMS, WhatsApp) ------------------------
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: dev outbox")
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = Field(default=None, description="Never logged")
    mail_from: str = "Paylink <no-reply@paylink.local>"
    sms_gateway_url: str | None = Field(default=None, description="Generic SMS gateway POST URL")
    sms_gateway_token: SecretStr | None = Field(
        default=None, description="Bearer token of the SMS gateway; never logged"
    )
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com/v21.0",
        description="The WhatsApp Cloud API's base URL (messages go to"
        " <url>/<phone number id>/messages)",
    )
    whatsapp_phone_number_id: str | None = Field(
        default=None,
        description="The WhatsApp business phone number's id; setting it turns WhatsApp on",
    )
    whatsapp_token: SecretStr | None = Field(
        default=None, description="Bearer token of the WhatsApp API; never logged"
    )
    whatsapp_template_payment_request: str = Field(
        default="paylink_payment_request",
        description="Approved template of a payment request: {{1}} merchant, {{2}} amount,"
        " {{3}} link URL, {{4}} expiry (WIB)",
    )
    whatsapp_template_reminder: str = Field(
        default="paylink_payment_reminder",
        description="Approved template of a reminder before expiry: {{1}} merchant,"
        " {{2}} amount, {{3}} link URL, {{4}} expiry (WIB)",
    )
    whatsapp_template_receipt: str = Field(
        default="paylink_payment_receipt",
        description="Approved template of a receipt: {{1}} merchant, {{2}} amount paid,"
        " {{3}} when (WIB), {{4}} receipt URL",
    )
    notify_timeout_s: float = Field(default=10.0, gt=0)
    notify_retries: int = Field(default=3, ge=1)
    # -- hosted page and sandbox channel ------------------------------------------------
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs CSRF tokens and sessions; required in production (32+ characters),"
        " in development default: var/secret.key, made once",
    )
    sandbox_secret: SecretStr | None = Field(
        default=None,
        description="Signs the sandbox channel's callbacks; default: var/sandbox.key, made once",
    )
    allow_private_webhooks: bool = Field(
        default=False, description="Allow webhook URLs on loopback/private networks (dev, tests)"
    )
    projection_gather_ms: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Under load, the projections wait this long between rounds so that each"
        " view write carries many events (an event after a quiet spell is not delayed)",
    )
    rebuild_processes: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes a full projection rebuild may use (0: one per CPU core)",
    )
    channel_poll_s: float = Field(
        default=5.0,
        ge=0,
        description="How often serve asks remote channels about unconfirmed payments; 0: never",
    )
    expire_every_s: float = Field(
        default=1.0,
        ge=0,
        description="How often links past their expiry get their Expired event; 0: never",
    )
    messages_every_s: float = Field(
        default=5.0,
        ge=0,
        description="How often reminders, receipts and alerts that are due are sent; 0: never",
    )
    message_max_age_s: float = Field(
        default=86400.0,
        gt=0,
        description="A receipt or alert whose cause is older than this is not sent any more",
    )
    # -- many nodes on one PostgreSQL: one leader per background worker ------------------
    node_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="This node's name in leader election and `paylink cluster status`;"
        " default hostname:pid",
    )
    leader_retry_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often a node tries to take over the workers no node leads, and a"
        " leader checks that it still leads its own (PostgreSQL)",
    )
    leader_dead_after_s: int = Field(
        default=3,
        ge=2,
        le=120,
        description="TCP keepalives of the lease connection: a node (or the server) silent"
        " this long is dead, and its workers are taken over (PostgreSQL)",
    )
    # -- a read replica and a primary that fails over (PostgreSQL) ---------------------
    database_read_url: str | None = Field(
        default=None,
        description="postgresql:// URL of a streaming standby the queries read from (the"
        " API's read models, the dashboard, exports); commands and events go to"
        " database_url. Unset: everything reads the primary",
    )
    replica_wait_s: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Longest a query waits for the read replica to replay past the caller's"
        " last write; then it reads the primary instead",
    )
    # -- settlement ----------------------------------------------------------------------
    settle_every_s: float = Field(
        default=900.0,
        ge=0,
        description="How often serve runs settlement for today (Asia/Jakarta); 0: never",
    )
    settlement_holidays: list[str] | None = Field(
        default=None,
        description="Non-business days (ISO dates) besides weekends; replaces the shipped list"
        " (Indonesia's national holidays and collective leave, 2026 and 2027)",
    )
    settlement_days: dict[str, int] | None = Field(
        default=None,
        description="T+N business days per method family (virtual_account, qris, ewallet, …)",
    )
    # -- Winpay SNAP channel (live-mode payments; unset winpay_base_url: not configured) ----
    winpay_base_url: str | None = Field(default=None, description="Winpay SNAP API base URL")
    winpay_partner_id: str = Field(default="", description="X-PARTNER-ID (merchant/partner id)")
    winpay_channel_id: str = Field(default="", description="CHANNEL-ID header")
    winpay_status_method: Literal["POST", "GET"] = Field(
        default="POST", description="HTTP method of the VA status inquiry (service 26)"
    )
    winpay_private_key: SecretStr | None = Field(
        default=None, description="Our RSA private key PEM (signs requests); never logged"
    )
    winpay_private_key_path: Path | None = Field(default=None, description="…or its PEM file")
    winpay_public_key: str | None = Field(
        default=None, description="Winpay's RSA public key PEM (checks callbacks)"
    )
    winpay_public_key_path: Path | None = Field(default=None, description="…or its PEM file")
    winpay_signature_scheme: Literal["rsa", "hmac"] = Field(
        default="rsa",
        description="rsa: SHA256withRSA, no token (Winpay); hmac: generic SNAP, a B2B "
        "access token then HMAC-SHA512 with the client secret",
    )
    winpay_client_key: str = Field(default="", description="X-CLIENT-KEY (hmac scheme)")
    winpay_client_secret: SecretStr | None = Field(
        default=None, description="Client secret: HMAC-SHA512 key (hmac scheme); never logged"
    )
    winpay_va_ttl_minutes: int = Field(default=1440, ge=2, le=129600)
    winpay_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator(*SECRETS, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``PAYLINK_SECRET_KEY=`` (empty) is no secret at all: unset."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _no_public_secrets_in_production(self) -> Settings:
        problems = self.live_secret_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def live_secret_problems(self) -> list[str]:
        """Why production must not start with these secrets (empty in development).

        ``PAYLINK_SECRET_KEY`` must be given: the key made in ``var/secret.key`` is for
        development (each machine would make its own, and a fresh disk a new one). The
        sandbox's own ``var/sandbox.key`` is fine, but not the public secret of earlier
        versions.
        """
        if self.environment != "production":
            return []
        problems = []
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key:
            problems.append(
                "PAYLINK_SECRET_KEY must be set in production (it signs sessions and CSRF"
                " tokens; var/secret.key is made only in development)"
            )
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"PAYLINK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
                " in production"
            )
        sandbox = self.sandbox_secret
        if sandbox is not None and sandbox.get_secret_value() == PUBLIC_SANDBOX_SECRET:
            problems.append(
                "PAYLINK_SANDBOX_SECRET is the public default of earlier versions; set your"
                " own or unset it (var/sandbox.key is made once)"
            )
        return problems

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields as pydantic shows them, the database and Redis URLs without passwords."""
        for name, value in super().__repr_args__():
            if name in ("database_url", "database_read_url", "redis_url") and isinstance(
                value, str
            ):
                yield name, without_password(value)
            else:
                yield name, value

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _postgres_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        name = f"PAYLINK_{(info.field_name or '').upper()}"
        if urlsplit(value).scheme not in ("postgresql", "postgres"):
            msg = f"{name} must be a postgresql:// URL (unset it for SQLite)"
            raise ValueError(msg)
        postgres_address(value, name)  # a bad host list or port is refused now, named
        return value

    @model_validator(mode="after")
    def _replica_beside_a_primary(self) -> Settings:
        if self.database_read_url is not None and self.database_url is None:
            msg = "PAYLINK_DATABASE_READ_URL needs PAYLINK_DATABASE_URL (the primary) too"
            raise ValueError(msg)
        return self

    def read_replica(self) -> Settings | None:
        """These settings with the read replica as their database (None: no replica).

        The replica's views are the primary's tables, replicated: same schema, same pool
        limits, a pool of its own.
        """
        if self.database_read_url is None:
            return None
        return self.model_copy(
            update={"database_url": self.database_read_url, "database_read_url": None}
        )

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            msg = "PAYLINK_REDIS_URL must be a redis://, rediss:// or unix:// URL"
            raise ValueError(msg)
        return value

    @property
    def backend(self) -> Literal["sqlite", "postgres"]:
        """Which database the event store and views use."""
        return "postgres" if self.database_url else "sqlite"

    @property
    def node(self) -> str:
        """This node's name among the nodes on one database: ``node_id``, else hostname:pid."""
        return self.node_id or f"{socket.gethostname()}:{os.getpid()}"

    @property
    def public_url(self) -> str:
        """Where customers and merchants reach this server."""
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def sqlite_path(self, name: str) -> Path:
        """The SQLite file for one store (one file per application, see ARCHITECTURE)."""
        return self.data_dir / f"{name}.sqlite3"

    def eventsourcing_env(self, store: str = "paylink") -> dict[str, str]:
        """The eventsourcing library's environment for one application store.

        Only words: the SQLite factory creates ``data_dir`` when the store is opened.
        """
        if self.database_url is None:
            return {
                "PERSISTENCE_MODULE": "paylink_es.store.sqlite:PaylinkSQLiteFactory",
                "SQLITE_DBNAME": str(self.sqlite_path(store)),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        address = postgres_address(self.database_url)
        env = {
            # The library's factory on a pool shared by the process (paylink_es.store.postgres).
            "PERSISTENCE_MODULE": "paylink_es.store.postgres:PaylinkPostgresFactory",
            # Events saved by a background worker are fenced: refused once its node no
            # longer leads that worker (paylink_es.store.leases).
            "APPLICATION_RECORDER_TOPIC": "paylink_es.store.leases:FencedApplicationRecorder",
            "POSTGRES_DBNAME": address.dbname,
            "POSTGRES_HOST": address.host,
            "POSTGRES_PORT": address.port,
            "POSTGRES_USER": address.user,
            "POSTGRES_PASSWORD": address.password,
            "PAYLINK_PG_TARGET_SESSION_ATTRS": address.target_session_attrs,
            "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout_s),
            "POSTGRES_CONNECT_TIMEOUT": str(self.postgres_connect_timeout_s),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": "0",
            "PAYLINK_PG_POOL_TIMEOUT_S": str(self.postgres_pool_timeout_s),
            "PAYLINK_PG_STATEMENT_TIMEOUT_S": str(self.postgres_statement_timeout_s),
            "PAYLINK_PG_APPLICATION_NAME": self.postgres_application_name,
            "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
            "POSTGRES_SCHEMA": self.database_schema or "",
        }
        return env


@dataclass(frozen=True)
class PostgresAddress:
    """Where a ``postgresql://`` URL points: libpq's keywords, hosts and ports as lists.

    A URL may name several hosts (``postgresql://u@h1:5432,h2:5433/db``): libpq tries them
    in turn, and ``?target_session_attrs=read-write`` makes it pass over a standby, so a
    process follows its primary to the standby promoted in its place.
    """

    host: str  # "h1,h2"
    port: str  # "5432,5433"
    dbname: str
    user: str
    password: str
    target_session_attrs: str  # "" (any), "read-write", "prefer-standby", ...


TARGET_SESSION_ATTRS: Final = (
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
)


def postgres_address(url: str, name: str = "PAYLINK_DATABASE_URL") -> PostgresAddress:
    """Parse ``url`` (one host or several); a ``ValueError`` naming ``name`` when it is bad.

    Of the query string only ``target_session_attrs`` is kept: the connections' other
    parameters (timeouts, keepalives, application_name) come from the settings.
    """
    parts = urlsplit(url)
    user_info, _, hosts = parts.netloc.rpartition("@")
    user, _, password = user_info.partition(":")
    names: list[str] = []
    ports: list[str] = []
    for item in hosts.split(","):
        host, port = _host_port(item)
        if not port.isdigit() or not 0 < int(port) < 65536:
            msg = f"{name}: {port!r} is not a port (1-65535)"
            raise ValueError(msg)
        names.append(host or "127.0.0.1")
        ports.append(port)
    query = parse_qs(parts.query)
    attrs = query.get("target_session_attrs", [""])[-1]
    if attrs and attrs not in TARGET_SESSION_ATTRS:
        msg = f"{name}: target_session_attrs must be one of {', '.join(TARGET_SESSION_ATTRS)}"
        raise ValueError(msg)
    return PostgresAddress(
        host=",".join(names),
        port=",".join(ports),
        dbname=unquote(parts.path.lstrip("/")) or "postgres",
        user=unquote(user) or "postgres",
        password=unquote(password),
        target_session_attrs=attrs,
    )


def _host_port(item: str) -> tuple[str, str]:
    """``host:port`` (``[v6]:port`` too) split in two; the port defaults to 5432."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        return host, rest.removeprefix(":") or "5432"
    host, _, port = item.partition(":")
    return host, port or "5432"


def without_password(url: str) -> str:
    """``url`` with the password of its user info shown as ``***`` (for reprs and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user_info, _, host = parts.netloc.rpartition("@")
    user = user_info.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
