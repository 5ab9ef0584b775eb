"""Fetch a hub-kind model once into the models directory (`coreviz-studio models fetch`).

The server never downloads by itself: an operator runs the command on a machine that reaches a
model hub (Hugging Face, or a mirror with the same `/<repo>/resolve/<revision>/<path>` layout,
`COREVIZ_HUB_URL`). Files are streamed to a staging folder and loaded once from there; only a
complete model that loads replaces the installed one, so a broken or half-finished fetch never
looks like an installed model and never removes a working one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


@dataclass(frozen=True)
class HubModel:
    repo: str
    folder: str  # under the models dir
    files: dict[str, str]  # path in the repo -> file name in the folder
    manifest: dict[str, Any] = field(default_factory=dict)  # written as `manifest_name`
    manifest_name: str = ""
    revision: str = "main"


CATALOG: dict[str, HubModel] = {
    # OpenAI's CLIP ViT-B/32, split into its two towers by transformers.js (Xenova's export):
    # vision_model.onnx (pixel_values -> image_embeds), text_model.onnx (input_ids -> text_embeds).
    "clip": HubModel(
        repo="Xenova/clip-vit-base-patch32", folder="clip",
        files={"onnx/vision_model.onnx": "image.onnx", "onnx/text_model.onnx": "text.onnx",
               "tokenizer.json": "tokenizer.json"},
        manifest={"name": "clip-vit-b-32", "image_size": 224, "mean": CLIP_MEAN,
                  "std": CLIP_STD, "context_length": 77, "dim": 512},
        manifest_name="clip.json",
    ),
}


class FetchError(Exception):
    """A readable reason the model could not be fetched."""


def fetch(name: str, models_dir: Path, hub_url: str, *, timeout: float = 60.0,
          check: Callable[[Path], object] | None = None,
          progress: Callable[[str, int], None] | None = None,
          catalog: dict[str, HubModel] | None = None) -> Path:
    """Download model `name` into `models_dir`; returns its folder. `check(models_dir)` loads
    the result (it raises if the files are not what the loader expects)."""
    spec = (catalog or CATALOG).get(name)
    if spec is None:
        raise FetchError(f"unknown model {name!r}; known: {', '.join(sorted(catalog or CATALOG))}")
    target = models_dir / spec.folder
    staging = models_dir / ".staging"  # a models dir of its own, so `check` can load from it
    shutil.rmtree(staging, ignore_errors=True)
    (staging / spec.folder).mkdir(parents=True)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            for repo_path, file_name in spec.files.items():
                url = f"{hub_url.rstrip('/')}/{spec.repo}/resolve/{spec.revision}/{repo_path}"
                _download(client, url, staging / spec.folder / file_name, progress)
        if spec.manifest_name:
            (staging / spec.folder / spec.manifest_name).write_text(
                json.dumps(spec.manifest, indent=2))
        if check is not None:
            try:
                check(staging)
            except Exception as exc:
                raise FetchError(f"the downloaded {name} model does not load: {exc}") from exc
        # Swap in: the installed folder (if any) goes only once the new one has loaded.
        old = models_dir / f".{spec.folder}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        (staging / spec.folder).rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _download(client: httpx.Client, url: str, path: Path,
              progress: Callable[[str, int], None] | None) -> None:
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered {response.status_code}")
            done = 0
            with open(path, "wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(path.name, done)
    except httpx.HTTPError as exc:
        raise FetchError(f"{url} could not be fetched ({type(exc).__name__})") from exc
