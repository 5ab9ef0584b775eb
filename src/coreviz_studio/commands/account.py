"""`login` (the device flow), `logout`, `whoami`."""

from __future__ import annotations

import sys
import webbrowser
from typing import Annotated

import typer

from coreviz_studio.client import Client, CoreVizError
from coreviz_studio.client.models import DeviceCode
from coreviz_studio.commands import common, profile


def _open_browser(url: str) -> bool:
    """Open the page where there is a browser to open (never without a terminal: a script, a
    server, a test)."""
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        return False
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def register(app: typer.Typer) -> None:
    @app.command()
    def login(
        server: common.Server = None,
        no_browser: Annotated[bool, typer.Option(
            "--no-browser", help="Only print the address; open no browser.")] = False,
    ) -> None:
        """Sign in through the device flow: prints a code and an address (and opens it in a
        browser where there is one), waits for you to approve, then keeps the token in the
        config file (mode 0600)."""
        target = profile.resolve(server, None)

        def show(code: DeviceCode) -> None:
            page = code.verification_uri_complete or code.verification_uri
            typer.echo(f"To sign in, open {code.verification_uri}\nand enter the code: "
                       f"{code.user_code}\n(or open {page})")
            if not no_browser and _open_browser(page):
                typer.echo("(opened in your browser)")
            typer.echo(f"Waiting for approval (the code expires in "
                       f"{max(1, code.expires_in // 60)} minutes)...")
            sys.stdout.flush()

        with common.errors(), Client(target.server, api_key="") as anonymous:
            token = anonymous.device_login(show)
        with common.errors(), Client(target.server, token=token.access_token) as c:
            me = c.me()
        data = profile.read_config()
        data.pop("apiKey", None)
        data.update({"server": target.server, "token": token.access_token,
                     "user": {"email": me.email, "name": me.name,
                              "organizationId": me.organization_id}})
        path = profile.write_config(data)
        typer.echo(f"Logged in to {target.server} as {me.email}"
                   f" ({me.organization_name or me.organization_id}); token saved in {path}")

    @app.command()
    def logout() -> None:
        """End the saved session on its server (when it can be reached) and forget the token
        (the server address stays)."""
        saved = profile.read_config()
        if saved.get("token") and saved.get("server"):
            try:
                with Client(saved["server"], token=saved["token"]) as c:
                    c.sign_out()
            except CoreVizError:
                pass  # gone already, or the server is away: the token is forgotten anyway
        had = profile.forget_credential()
        typer.echo("Logged out." if had else "Not logged in.")

    @app.command()
    def whoami(server: common.Server = None, api_key: common.ApiKey = None,
               as_json: common.AsJson = False) -> None:
        """Who the server says you are, with which credential, on which server."""
        target = profile.resolve(server, api_key)
        if target.source == "none":
            common.fail(f"not logged in to {target.server}", profile.UNAUTHENTICATED)
        with common.connect(server, api_key) as c:
            me = c.me()
        if as_json:
            common.emit({"server": target.server, "credential": target.source,
                         **me.model_dump(by_alias=True, mode="json")})
            return
        typer.echo(f"{me.name} <{me.email}> in {me.organization_name or me.organization_id}"
                   f" on {target.server} (credential from {target.source})")
