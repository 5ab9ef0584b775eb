"""Where the CLI finds its server and credential: flags, then the official CLI's variables
(COREVIZ_API_URL, COREVIZ_API_KEY), then the config file that `login` writes (mode 0600, in the
user's config dir: $COREVIZ_CONFIG_DIR, else platformdirs' user_config_dir)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from coreviz_studio.client import ENV_KEY, ENV_URL, Client
from coreviz_studio.client.config import DEFAULT_URL, normalise_base_url

ENV_CONFIG_DIR = "COREVIZ_CONFIG_DIR"
CONFIG_NAME = "config.json"

# Exit codes (docs/cli.md).
OK = 0
FAILED = 1  # the server refused (its message is printed), or another error
USAGE = 2  # bad arguments (Typer's own code for them too)
UNAUTHENTICATED = 3  # no credential, or the server does not accept it
UNREACHABLE = 4  # the server could not be reached
PARTIAL = 5  # an upload, sync or download ended with some files failed (the others went)
INTERRUPTED = 130  # Ctrl-C (an upload: run it again to go on)


def config_dir() -> Path:
    told = os.environ.get(ENV_CONFIG_DIR)
    return Path(told) if told else Path(platformdirs.user_config_dir("coreviz-studio"))


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def read_config() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically, in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_config(data: dict[str, Any]) -> Path:
    path = config_path()
    write_private(path, json.dumps(data, indent=2) + "\n")
    return path


def forget_credential() -> bool:
    """Drop the saved token (the server address stays); whether there was one."""
    data = read_config()
    had = bool(data.pop("token", None) or data.pop("apiKey", None))
    data.pop("user", None)
    if data:
        write_config(data)
    else:
        config_path().unlink(missing_ok=True)
    return had


@dataclass(frozen=True)
class Target:
    server: str
    api_key: str | None
    token: str | None
    source: str  # where the credential came from: flag, environment, config, none

    def client(self, **kw: Any) -> Client:
        if self.token:
            return Client(self.server, token=self.token, **kw)
        return Client(self.server, api_key=self.api_key or "", **kw)


def resolve(server: str | None, api_key: str | None) -> Target:
    """Flags first, then COREVIZ_API_URL / COREVIZ_API_KEY, then the config file. The saved
    token is used only for the server it was issued by."""
    saved = read_config()
    url = normalise_base_url(server or os.environ.get(ENV_URL) or saved.get("server")
                             or DEFAULT_URL)
    if api_key:
        return Target(url, api_key, None, "flag")
    if env_key := os.environ.get(ENV_KEY):
        return Target(url, env_key, None, "environment")
    same = normalise_base_url(saved.get("server") or DEFAULT_URL) == url
    if same and saved.get("token"):
        return Target(url, None, saved["token"], "config")
    if same and saved.get("apiKey"):
        return Target(url, saved["apiKey"], None, "config")
    return Target(url, None, None, "none")
