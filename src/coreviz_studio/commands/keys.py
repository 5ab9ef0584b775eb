"""`keys list|create|revoke` over HTTP: the signed-in user's own API keys (the server and
credential as every command for people finds them). cli.py's `keys` commands come here unless
the operator's mode is asked for (`--data-dir`, `--email`, `--org` or `--operator`: keys of
any user, straight on a data dir's database)."""

from __future__ import annotations

from typing import Any

import typer

from coreviz_studio.client import Client
from coreviz_studio.client.models import ApiKey
from coreviz_studio.commands import common


def operator_mode(*, data_dir: object, email: object = None, org: object = None,
                  operator: bool = False) -> bool:
    return bool(operator or data_dir is not None or email or org)


def _row(k: ApiKey) -> dict[str, Any]:
    # the wire's `prefix` is the kind's (cvz_), `start` the key's own visible beginning
    return {"id": k.id, "prefix": k.start, "name": k.name,
            "createdAt": k.created_at.isoformat() if k.created_at else None,
            "lastUsedAt": k.last_used_at.isoformat() if k.last_used_at else None,
            "expiresAt": k.expires_at.isoformat() if k.expires_at else None,
            "revoked": k.revoked_at is not None or not k.enabled, "readOnly": k.read_only,
            "collections": k.collections}


def create(server: str | None, api_key: str | None, *, name: str, read_only: bool,
           collections: list[str] | None, expires_in: int | None, as_json: bool) -> None:
    with common.connect(server, api_key) as c:
        made = c.create_api_key(name or None, expires_in=expires_in, read_only=read_only,
                                collections=collections)
    if as_json:
        common.emit({**_row(made), "apiKey": made.key})
    else:
        typer.echo(f"API key {made.id} (prefix {made.start}), shown only now:\n"
                   f"{made.key}")


def list_keys(server: str | None, api_key: str | None, *, as_json: bool) -> None:
    with common.connect(server, api_key) as c:
        rows = [_row(k) for k in c.list_api_keys()]
    if as_json:
        common.emit(rows)
        return
    for k in rows:
        state = "revoked" if k["revoked"] else "active"
        typer.echo(f"{k['id']}  {k['prefix']}…  {state:7}  last used {k['lastUsedAt'] or 'never'}"
                   f"  {k['name']}")


def _find(c: Client, key: str) -> ApiKey | None:
    for k in c.list_api_keys():
        if key in (k.id, k.start):
            return k
    return None


def revoke(server: str | None, api_key: str | None, key: str) -> None:
    with common.connect(server, api_key) as c:
        found = _find(c, key)
        if found is None:
            common.fail(f"none of your API keys has the id or prefix {key!r}")
            return
        c.delete_api_key(found.id)
    typer.echo(f"revoked {found.id} ({found.start}…)")
