"""A real S3-compatible server for the tests: moto_server on 127.0.0.1 and a free port, one
per test process (a session fixture in conftest.py), with a bucket made for the suite."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from coreviz_studio.config import Settings
from tests.processes import free_port

BUCKET = "coreviz-test"
CREDENTIALS = {"COREVIZ_S3_ACCESS_KEY_ID": "test", "COREVIZ_S3_SECRET_ACCESS_KEY": "test"}


@dataclass
class MotoServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def env(self, prefix: str = "", url: str | None = None) -> dict[str, str]:
        """The COREVIZ_* settings of a store on this server (through `url` when given)."""
        return {"COREVIZ_STORAGE": "s3", "COREVIZ_S3_ENDPOINT_URL": url or self.url,
                "COREVIZ_S3_BUCKET": BUCKET, "COREVIZ_S3_REGION": "us-east-1",
                "COREVIZ_S3_PREFIX": prefix, "COREVIZ_S3_ADDRESSING_STYLE": "path",
                **CREDENTIALS}

    def settings(self, data_dir: Path, prefix: str | None = None, url: str | None = None,
                 **more: Any) -> Settings:
        """Settings of a store under a prefix of its own (a new one unless given)."""
        env = self.env(f"t-{uuid.uuid4().hex[:12]}/" if prefix is None else prefix, url)
        values: dict[str, Any] = {k.removeprefix("COREVIZ_").lower(): v for k, v in env.items()}
        return Settings(data_dir=data_dir, workers=0, **values, **more)

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(s3={"addressing_style": "path"}))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def start(log: Path, timeout: float = 60) -> MotoServer:
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    out = open(log, "wb")  # noqa: SIM115 - the server's output for as long as it runs
    proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                            stderr=subprocess.STDOUT)
    out.close()
    server = MotoServer(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"moto_server exited:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(server.url + "/", timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError("moto_server did not answer") from None
            time.sleep(0.1)  # polling a condition (the port answers), with a deadline
    server.client().create_bucket(Bucket=BUCKET)
    return server
