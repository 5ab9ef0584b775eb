"""Fetch a hub-kind model once into the models directory (`coreviz-studio models fetch`).

The server never downloads by itself: an operator runs the command on a machine that reaches a
model hub (Hugging Face, or a mirror with the same `/<repo>/resolve/<revision>/<path>` layout,
`COREVIZ_HUB_URL`). Files are streamed to a staging folder and loaded once from there; only a
complete model whose pinned files match their sha256 and that loads replaces the installed
one, so a broken, altered or half-finished fetch never looks like an installed model and never
removes a working one. A model whose pinned files are all in place already is not fetched again.
"""

from __future__ import annotations

import hashlib
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
    sha256: dict[str, str] = field(default_factory=dict)  # path in the repo -> its digest


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
    # The OpenCV model zoo's NanoDet COCO-80 detector at 416 x 416 (Apache-2.0; the zoo calls it
    # NanoDet-m-plus-1.5x), 3,800,954 bytes. The digest is the Git LFS object id of the same
    # file in github.com/opencv/opencv_zoo (models/object_detection_nanodet, added in commit
    # 510899a2); the revision is the Hugging Face commit other projects pin it at. Neither was
    # downloaded here (no hub is reachable from where this was written): docs/ai.md.
    "detector": HubModel(
        repo="opencv/object_detection_nanodet", folder="objects",
        revision="5bfd47077350a726ad440dd7bd1e1e35e8ebcfb2",
        files={"object_detection_nanodet_2022nov.onnx": "object_detection_nanodet_2022nov.onnx"},
        sha256={"object_detection_nanodet_2022nov.onnx":
                "4b82da9944b88577175ee23a459dce2e26e6e4be573def65b1055dc2d9720186"},
    ),
}

# (file name, bytes so far, bytes in all when the hub says) while a file downloads
Progress = Callable[[str, int, int | None], None]


def _clip_loads(models_dir: Path) -> None:
    from coreviz_studio.ai.clip import Clip

    clip = Clip.find(models_dir)
    if clip is None:
        raise ValueError("no clip.json after the download")
    clip.embed_texts(["a photo"])


def _detector_loads(models_dir: Path) -> None:
    from PIL import Image

    from coreviz_studio.ai.detector import ObjectDetector
    from coreviz_studio.ai.registry import find_detector

    path = find_detector(models_dir)  # where the registry will look for it
    if path is None:
        raise ValueError("no .onnx file in objects/ after the download")
    ObjectDetector(path).detect(Image.new("RGB", (64, 48)))


# How `models fetch` checks each model before installing it: loaded the way the registry will.
CHECKS: dict[str, Callable[[Path], None]] = {"clip": _clip_loads, "detector": _detector_loads}


class FetchError(Exception):
    """A readable reason the model could not be fetched."""


def fetch(name: str, models_dir: Path, hub_url: str, *, timeout: float = 60.0,
          check: Callable[[Path], object] | None = None,
          progress: Progress | None = None,
          catalog: dict[str, HubModel] | None = None) -> Path:
    """Download model `name` into `models_dir`; returns its folder. `check(models_dir)` loads
    the result (it raises if the files are not what the loader expects)."""
    spec = _spec(name, catalog)
    target = models_dir / spec.folder
    if installed(name, models_dir, catalog=catalog):
        return target
    staging = models_dir / ".staging"  # a models dir of its own, so `check` can load from it
    shutil.rmtree(staging, ignore_errors=True)
    (staging / spec.folder).mkdir(parents=True)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            for repo_path, file_name in spec.files.items():
                url = f"{hub_url.rstrip('/')}/{spec.repo}/resolve/{spec.revision}/{repo_path}"
                digest = _download(client, url, staging / spec.folder / file_name, progress)
                expected = spec.sha256.get(repo_path)
                if expected is not None and digest != expected:
                    raise FetchError(f"{url} is not the pinned file: its sha256 is {digest}, "
                                     f"expected {expected}")
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


def installed(name: str, models_dir: Path, *, catalog: dict[str, HubModel] | None = None) -> bool:
    """True when every file of model `name` is pinned and in place with its digest (a model with
    unpinned files can't be told apart from another one, so it is fetched again)."""
    spec = _spec(name, catalog)
    folder = models_dir / spec.folder
    return set(spec.sha256) == set(spec.files) and all(
        (folder / file_name).is_file()
        and _sha256(folder / file_name) == spec.sha256[repo_path]
        for repo_path, file_name in spec.files.items())


def _spec(name: str, catalog: dict[str, HubModel] | None) -> HubModel:
    spec = (catalog or CATALOG).get(name)
    if spec is None:
        raise FetchError(f"unknown model {name!r}; known: {', '.join(sorted(catalog or CATALOG))}")
    return spec


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _download(client: httpx.Client, url: str, path: Path, progress: Progress | None) -> str:
    """Stream `url` into `path`; returns the sha256 of what was written."""
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered {response.status_code}")
            length = response.headers.get("content-length", "")
            total = int(length) if length.isdigit() else None
            done = 0
            with open(path, "wb") as out:
                for chunk in response.iter_bytes(1024 * 1024):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(path.name, done, total)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        # The usual case on a machine without internet access: say what would help.
        raise FetchError(f"could not connect to the hub for {url} ({type(exc).__name__}): "
                         "run this where the hub is reachable, or name a mirror with "
                         "--hub-url or COREVIZ_HUB_URL") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url} could not be fetched ({type(exc).__name__})") from exc
    return digest.hexdigest()
