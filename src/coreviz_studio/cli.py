"""The `coreviz-studio` command. Every command works whether or not a server is running on the
same data dir: they share its embedded PostgreSQL."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from coreviz_studio import __version__
from coreviz_studio.commands import (
    account,
    ai,
    common,
    folders,
    items,
    library,
    media_items,
    tags,
    transfer,
    versions,
)
from coreviz_studio.commands import keys as http_keys
from coreviz_studio.commands import queue as queue_command
from coreviz_studio.commands.media import media_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from coreviz_studio.config import Settings
    from coreviz_studio.db.session import Database

# The server's modules (SQLAlchemy, alembic, psycopg: ~1.5 s) are imported inside the operator
# commands that use them, so the commands for people, which speak HTTP only, start fast.

app = typer.Typer(help="CoreViz Studio: a self-hosted visual library server.",
                  no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: your own over HTTP; any user's as the operator "
                       "(--data-dir, --email, --org or --operator).", no_args_is_help=True)
members_app = typer.Typer(help="Organization members, as the operator (over HTTP people join "
                          "by invitation).", no_args_is_help=True)
models_app = typer.Typer(help="The models processing and search use.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(members_app, name="members")
app.add_typer(models_app, name="models")
account.register(app)  # login, logout, whoami: the commands for people (commands/)
app.add_typer(media_app, name="media")
library.register(app)  # collections, ls, search, rm, restore
# the rest of the official CLI's tree: folders, tags, media tags|versions|rename|move|search|
# find-similar, describe, tag, edit
folders.register(app)
tags.register(app, media_app)
versions.register(media_app)
media_items.register(media_app)
ai.register(app)
transfer.register(app)  # sync, download
items.register(app)  # similar, mv
queue_command.register(app)  # queue: processing counts

T = TypeVar("T")
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory "
                                               "(default: $COREVIZ_DATA_DIR or the platform's)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON line.")]
Operator = Annotated[bool, typer.Option(
    "--operator", help="The operator's mode on the data dir (also implied by --data-dir, "
    "--email, --org); without it `keys` manages your own keys over HTTP.")]


def _settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    from coreviz_studio.config import Settings
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _open_migrated(settings: Settings) -> Database:
    from coreviz_studio.db.embedded import EmbeddedPostgresError
    from coreviz_studio.db.migrate import upgrade
    from coreviz_studio.db.session import open_database
    try:
        db = open_database(settings)
    except EmbeddedPostgresError as exc:
        _fail(f"could not start the embedded PostgreSQL: {exc}")
        raise  # unreachable: _fail exits
    try:
        upgrade(db.engine)
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    db = _open_migrated(settings)
    try:
        yield db
    finally:
        db.close()


def _in_transaction(data_dir: Path | None, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction on the data dir's database; AppErrors become exit 1."""
    from coreviz_studio.errors import AppError
    with _database(_settings(data_dir)) as db, db.system_sessions() as session:
        try:
            result = work(session)
            session.commit()
            return result
        except AppError as exc:
            session.rollback()
            _fail(exc.message)
            raise  # unreachable: _fail exits


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the server (and its embedded PostgreSQL unless DATABASE_URL is set)."""
    import uvicorn

    from coreviz_studio import logs
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.app import create_app

    settings = _settings(data_dir, host=host, port=port)
    logs.setup(settings.log_level)
    db = _open_migrated(settings)
    try:
        with db.system_sessions() as session:
            first = accounts.bootstrap(session)
            session.commit()
    except BaseException:
        db.close()
        raise
    url = settings.effective_public_url()
    typer.echo(f"CoreViz Studio {__version__} at {url}  (data: {settings.data_dir})")
    if first is not None:
        typer.echo(f"First start: created {first.user.email} (owner of "
                   f"\"{first.organization.name}\"). Its API key, shown only now:\n"
                   f"  {first.api_key}\n"
                   f"Use it as the x-api-key header, e.g. curl -H 'x-api-key: {first.api_key}'"
                   f" {url}/api/me\n"
                   f"Sign in to the Studio at {url}/ as {first.user.email} with the password "
                   f"(shown only now; change it with `coreviz-studio users set-password`):\n"
                   f"  {first.password}")
    sys.stdout.flush()
    from coreviz_studio import serving
    if (processes := serving.web_processes(settings)) > 1:
        serving.run(settings, db, processes)  # closes the database at the end
        return
    # The app closes the database (and releases the embedded PostgreSQL) at shutdown.
    uvicorn.run(create_app(settings, db, close_database=True, serving=True), host=settings.host,
                port=settings.port, log_level=settings.log_level, proxy_headers=False)


@app.command("worker")
def worker_command(
    concurrency: Annotated[int | None, typer.Option(
        help="Jobs at the same time (default $COREVIZ_WORKER_CONCURRENCY or 2).")] = None,
    until_empty: Annotated[bool, typer.Option(
        "--until-empty", help="Stop once the queue is empty instead of waiting for work.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Process uploads (frames, captions, objects, embeddings) from the shared queue.

    Run as many as you like, here or on other machines that reach the same database (set
    DATABASE_URL) and see the same blob directory."""
    import asyncio

    from coreviz_studio import logs
    from coreviz_studio.pipeline import worker
    from coreviz_studio.pipeline.process import Pipeline
    from coreviz_studio.storage.factory import build_store

    settings = _settings(data_dir, worker_concurrency=concurrency)
    logs.setup(settings.log_level)
    with _database(settings) as db:
        db.watch(settings.db_watchdog_seconds)  # it shares (and may restart) the embedded one
        store = build_store(settings)
        if reaped := store.reap_pending():
            typer.echo(f"removed {reaped} files left by stopped processes")
        pipe = Pipeline(db, store, settings)
        typer.echo(f"worker {worker.worker_name()}: {settings.worker_concurrency} at a time")
        asyncio.run(worker.run(pipe, wait=not until_empty, install_signal_handlers=True))


@app.command()
def reprocess(
    media: Annotated[list[str] | None, typer.Option(
        "--media", help="A media id (repeat for several).")] = None,
    collection: Annotated[str | None, typer.Option(
        "--collection", help="Every media of this collection (dataset id).")] = None,
    everything: Annotated[bool, typer.Option(
        "--all", help="Every media of every organization (after a model change).")] = False,
    failed_only: Annotated[bool, typer.Option(
        "--failed", help="Only media whose processing, or one of its steps, failed.")] = False,
    step: Annotated[list[str] | None, typer.Option(
        "--step", help="Only this step (repeat for several): decode, labels, objects, faces, "
        "text, moderation, caption, embeddings, search.")] = None,
    changed: Annotated[bool, typer.Option(
        "--changed", help="Only the steps whose model is new or changed (every media unless "
        "narrowed).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Queue processing again (a running server or `worker` picks it up); docs/processing.md."""
    from coreviz_studio.ai.registry import models_for
    from coreviz_studio.pipeline import reprocess as requeue

    if not (media or collection or everything or changed):
        _fail("say what to reprocess: --media ID, --collection ID, --all or --changed")
    models = models_for(_settings(data_dir)) if changed else None

    def work(session: Session) -> tuple[int, int]:
        return requeue.requeue_where(session, media_ids=media, dataset_id=collection,
                                     failed_only=failed_only, steps=step, changed=models)

    queued, skipped = _in_transaction(data_dir, work)
    typer.echo(f"queued {queued} media" + (f" ({skipped} already waiting)" if skipped else ""))


@app.command()
def thumbnails(
    collection: Annotated[str | None, typer.Option(
        "--collection", help="Only this collection (dataset id).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Queue thumbnails for processed items that have none (those processed before thumbnails
    existed); made from their stored frames by a running server or `worker`."""
    from coreviz_studio.ids import parse_id
    from coreviz_studio.pipeline import missing_thumbnails

    def work(session: Session) -> int:
        dataset = parse_id(collection, "dataset") if collection else None
        return missing_thumbnails.enqueue_missing(session, dataset)

    queued = _in_transaction(data_dir, work)
    typer.echo(f"queued thumbnails for {queued} media")


@app.command()
def fingerprints(
    collection: Annotated[str | None, typer.Option(
        "--collection", help="Only this collection (dataset id).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Compute the perceptual hash (near-duplicate grouping, docs/duplicates.md) of processed
    items that have none, from their stored thumbnails, here and now."""
    from coreviz_studio.errors import AppError
    from coreviz_studio.ids import parse_id
    from coreviz_studio.pipeline import missing_fingerprints
    from coreviz_studio.storage.factory import build_store

    settings = _settings(data_dir)
    try:
        dataset = parse_id(collection, "dataset") if collection else None
    except AppError as exc:
        _fail(exc.message)
        raise  # unreachable: _fail exits
    with _database(settings) as db:
        done = missing_fingerprints.fill_missing(db, build_store(settings), dataset)
    typer.echo(f"hashed {done} media")


@models_app.command("list")
def models_list(data_dir: DataDir = None) -> None:
    """The models this data dir's settings enable, and where hub-kind models are looked for."""
    from coreviz_studio.ai.registry import build

    settings = _settings(data_dir)
    models = build(settings)
    typer.echo(f"models dir: {settings.effective_models_dir()}")
    for name in models.names():
        typer.echo(f"  {name}")
    if models.clip is None:
        typer.echo("  (no CLIP: `coreviz-studio models fetch clip` where a hub is reachable)")
    if models.detector is None:
        typer.echo("  (no object detector: `coreviz-studio models fetch detector` where a hub is "
                   "reachable, or a NanoDet COCO .onnx in <models dir>/objects/)")


@models_app.command("fetch")
def models_fetch(
    name: Annotated[str, typer.Argument(help="Which model: clip or detector.")],
    hub_url: Annotated[str | None, typer.Option(
        "--hub-url", help="The hub (default $COREVIZ_HUB_URL or https://huggingface.co).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Download a hub-kind model once into the models dir (then restart the server/workers)."""
    from coreviz_studio.ai import hub

    settings = _settings(data_dir, hub_url=hub_url)
    models_dir = settings.effective_models_dir()
    try:
        if hub.installed(name, models_dir):
            typer.echo(f"{name} is already installed in {models_dir} (its files match their "
                       "sha256); nothing fetched")
            return
        typer.echo(f"fetching {name} from {settings.hub_url}", err=True)
        folder = hub.fetch(name, models_dir, settings.hub_url, check=hub.CHECKS.get(name),
                           progress=_fetch_progress())
    except hub.FetchError as exc:
        _fail(str(exc))
        return
    typer.echo(f"{name} installed in {folder}")


def _fetch_progress() -> Callable[[str, int, int | None], None]:
    """Plain lines on stderr while a model file comes in: one per tenth of it (or per 50 MB
    when the hub does not say its size), so logs stay short and a terminal shows it moving."""
    shown: dict[str, int] = {}

    def report(file_name: str, done: int, total: int | None) -> None:
        mark = done * 10 // total if total else done // (50 * 10**6)
        if mark > shown.get(file_name, 0):
            shown[file_name] = mark
            of = f" of {total / 1e6:.1f}" if total else ""
            typer.echo(f"  {file_name}: {done / 1e6:.1f}{of} MB", err=True)

    return report


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply pending database migrations (the server also does this on start)."""
    from coreviz_studio.db.migrate import current_revision
    with _database(_settings(data_dir)) as db:
        typer.echo(f"database schema at revision {current_revision(db.engine)}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email (their login).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    org: Annotated[str | None, typer.Option(
        help="Organization name: created, or joined if it exists. Without it the user belongs "
        "to none until they accept an invitation.")] = None,
    password: Annotated[str | None, typer.Option(help="Password for sign-in (optional).")] = None,
    role: Annotated[str | None, typer.Option(
        help="owner, admin, member or viewer (default: owner of a new org, else member).")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Create a user, their organization membership and a first API key."""
    from coreviz_studio.accounts import service as accounts
    if org is None:
        if role is not None:
            _fail("--role needs --org")
        user = _in_transaction(data_dir, lambda s: accounts.create_user(s, email, name, password))
        if as_json:
            typer.echo(json.dumps({"userId": str(user.id), "organizationId": None,
                                   "apiKey": None}))
        else:
            typer.echo(f"created {user.email} (no organization yet: they can sign in and accept "
                       "an invitation)")
        return
    new = _in_transaction(data_dir, lambda s: accounts.enroll(s, email, name, org, password, role))
    if as_json:
        typer.echo(json.dumps({"userId": str(new.user.id), "organizationId":
                               str(new.organization.id), "apiKey": new.api_key}))
    else:
        typer.echo(f"created {new.user.email} ({new.role} of \"{new.organization.name}\", "
                   f"organization id {new.organization.id})\nAPI key (shown only now): "
                   f"{new.api_key}")


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Option(help="The user's email.")],
    password: Annotated[str, typer.Option(help="The new password (at least 8 characters).")],
    data_dir: DataDir = None,
) -> None:
    """Set (or reset) a user's sign-in password."""
    from coreviz_studio.accounts import service as accounts
    user = _in_transaction(data_dir, lambda s: accounts.set_password(s, email, password))
    typer.echo(f"password set for {user.email}")


def _member_org(session: Session, email: str, org_name: str | None) -> tuple[Any, Any]:
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.errors import NotFound
    user = accounts.find_user(session, email)
    if user is None:
        raise NotFound(f"No user with email {email}")
    orgs = {o.name: o for o, _ in accounts.organizations_of(session, user.id)}
    if org_name is None:
        active = next((o for o in orgs.values() if o.id == user.active_organization_id), None)
        if active is None:
            raise NotFound(f"{email} belongs to no organization")
        return user, active
    if org_name not in orgs:
        raise NotFound(f"{email} is not a member of {org_name!r}")
    return user, orgs[org_name]


@keys_app.command("create")
def keys_create(
    email: Annotated[str | None, typer.Option(
        help="Operator: the key acts as this user.")] = None,
    org: Annotated[str | None, typer.Option(help="Organization (default: the user's active).")
                   ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
    read_only: Annotated[bool, typer.Option("--read-only", help="The key only reads.")] = False,
    collection: Annotated[list[str] | None, typer.Option(
        "--collection", help="Limit the key to this collection (id); repeat for several.")
    ] = None,
    expires_in: Annotated[int | None, typer.Option(
        "--expires-in", help="Over HTTP: seconds until the key expires.")] = None,
    data_dir: DataDir = None,
    operator: Operator = False,
    server: common.Server = None,
    api_key: common.ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Create an API key (yours over HTTP; as the operator, any user's with --email); its
    secret is shown only now."""
    from coreviz_studio import tenancy
    from coreviz_studio.auth import keys as auth_keys
    if not http_keys.operator_mode(data_dir=data_dir, email=email, org=org,
                                   operator=operator):
        http_keys.create(server, api_key, name=name, read_only=read_only,
                         collections=collection or None, expires_in=expires_in,
                         as_json=as_json)
        return
    if email is None:
        _fail("the operator's `keys create` needs --email (the user the key acts as)", 2)

    def work(session: Session) -> tuple[Any, str]:
        user, organization = _member_org(session, email or "", org)
        acting = auth_keys.operator_principal(session, user.id, organization.id)
        tenancy.bind(session, acting)  # the collections it names are looked up as that member
        return auth_keys.create(session, acting, name, None, read_only, collection or None)

    row, secret = _in_transaction(data_dir, work)
    if as_json:
        typer.echo(json.dumps({"id": str(row.id), "prefix": row.prefix, "apiKey": secret,
                               "organizationId": str(row.organization_id),
                               "readOnly": row.read_only,
                               "collections": _collections(row.dataset_ids)}))
    else:
        typer.echo(f"API key {row.id} (prefix {row.prefix}), shown only now:\n{secret}")


def _collections(dataset_ids: list[Any] | None) -> list[str] | None:
    return None if dataset_ids is None else [str(d) for d in dataset_ids]


@keys_app.command("list")
def keys_list(
    email: Annotated[str | None, typer.Option(help="Only this user's keys.")] = None,
    org: Annotated[str | None, typer.Option(help="Organization (default: the user's active).")
                   ] = None,
    data_dir: DataDir = None,
    operator: Operator = False,
    server: common.Server = None,
    api_key: common.ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """List API keys, never their secrets (yours over HTTP; as the operator, a user's or an
    organization's)."""
    from coreviz_studio.accounts import service as accounts
    from coreviz_studio.auth import service as auth
    from coreviz_studio.errors import Invalid
    if not http_keys.operator_mode(data_dir=data_dir, email=email, org=org,
                                   operator=operator):
        http_keys.list_keys(server, api_key, as_json=as_json)
        return

    def work(session: Session) -> list[Any]:
        if email is None and org is None:
            raise Invalid("give --email, --org or both")
        if email is not None:
            user, organization = _member_org(session, email, org)
            return auth.list_api_keys(session, organization.id, user.id)
        return auth.list_api_keys(session, accounts.find_organization(session, org or "").id)

    rows = _in_transaction(data_dir, work)
    out = [{"id": str(k.id), "prefix": k.prefix, "name": k.name, "userId": str(k.user_id),
            "organizationId": str(k.organization_id), "createdAt": k.created_at.isoformat(),
            "lastUsedAt": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked": k.revoked_at is not None, "readOnly": k.read_only,
            "collections": _collections(k.dataset_ids)} for k in rows]
    if as_json:
        typer.echo(json.dumps(out))
        return
    for k in out:
        state = "revoked" if k["revoked"] else "active"
        typer.echo(f"{k['id']}  {k['prefix']}…  {state:7}  last used {k['lastUsedAt'] or 'never'}"
                   f"  {k['name']}")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or its visible prefix.")],
    data_dir: DataDir = None,
    operator: Operator = False,
    server: common.Server = None,
    api_key: common.ApiKey = None,
) -> None:
    """Revoke an API key (yours over HTTP; any, as the operator); it is refused from the next
    request on."""
    from coreviz_studio.auth import service as auth
    if not http_keys.operator_mode(data_dir=data_dir, operator=operator):
        http_keys.revoke(server, api_key, key)
        return
    row = _in_transaction(data_dir, lambda s: auth.revoke_api_key(s, None, key))
    typer.echo(f"revoked {row.id} ({row.prefix}…)")


@members_app.command("add")
def members_add(
    email: Annotated[str, typer.Argument(help="An existing user's email.")],
    org: Annotated[str, typer.Option(help="The organization's name.")],
    role: Annotated[str, typer.Option(help="owner, admin, member or viewer.")] = "member",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Add an existing user to an organization at once (the operator's direct add). Their
    active organization changes only if they had none."""
    from coreviz_studio.accounts import members
    from coreviz_studio.accounts import service as accounts
    def work(session: Session) -> Any:
        return members.add_member(session, accounts.find_organization(session, org).id, email,
                                  role)

    added = _in_transaction(data_dir, work)
    if as_json:
        typer.echo(json.dumps({"memberId": str(added.membership.id),
                               "userId": str(added.user.id),
                               "organizationId": str(added.membership.organization_id),
                               "role": added.membership.role}))
    else:
        typer.echo(f"added {added.user.email} to \"{org}\" as {added.membership.role}")


@app.command("mcp")
def mcp_command(
    api_url: Annotated[str | None, typer.Option(
        "--api-url", "--url", envvar="COREVIZ_API_URL",
        help="The server (default http://127.0.0.1:8000).")] = None,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="COREVIZ_API_KEY", help="An API key (x-api-key).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="COREVIZ_TOKEN", help="A bearer token instead of a key.")] = None,
) -> None:
    """Run the MCP server over stdio (for Claude Desktop and other MCP hosts; docs/mcp.md).
    The tools act as the key's (or token's) user, over HTTP, on the server given."""
    from coreviz_studio.mcp_server.stdio import run

    if not api_key and not token:
        _fail("give --api-key (or COREVIZ_API_KEY) or --token", 2)
    run(api_url, None if token else api_key, token)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    from coreviz_studio.storage.base import StoreSettingsError

    try:
        app()
    except StoreSettingsError as exc:  # e.g. COREVIZ_STORAGE=s3 without a bucket
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
