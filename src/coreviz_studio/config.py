"""Settings, read from the environment (prefix ``COREVIZ_``) and the command line.

Every setting is documented here and in the README's settings table; `DATABASE_URL` is also read
without the prefix because that is what every PostgreSQL tool uses.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Root keeps its data under /var/lib (a root home is private to the database user);
    everyone else under their own data directory."""
    if os.geteuid() == 0:
        return Path("/var/lib/coreviz-studio")
    return Path(platformdirs.user_data_dir("coreviz-studio", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COREVIZ_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database, blobs and models live.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("COREVIZ_DATABASE_URL", "DATABASE_URL"),
        description="An external PostgreSQL (with vector, ltree, pg_trgm); unset = embedded.",
    )
    public_url: str | None = Field(
        None,
        description="The URL clients reach this server at, used in links; default http://host:port.",
    )
    embedded_pg_user: str = Field(
        "coreviz-postgres",
        description="System user the embedded PostgreSQL runs as when the server runs as root.",
    )
    embedded_pg_shared_buffers: str = Field(
        "auto", pattern=r"^(auto|[1-9][0-9]*(kB|MB|GB|TB))$",
        description="The embedded PostgreSQL's cache (shared_buffers): auto is a quarter of "
        "the machine's memory, from 128MB to 4GB; or a size such as 2GB (docs/speed.md).",
    )
    session_ttl_hours: int = Field(
        24 * 30, ge=1, description="How long a bearer session token stays valid."
    )
    db_pool_size: int = Field(
        10, ge=1, description="Requests holding a database session at once per process (the "
        "others wait), and the connections kept (as many again in overflow for processing and "
        "short checks): web processes x (3 x this + 2) must stay under PostgreSQL's "
        "max_connections (docs/serving.md).")
    web_processes: int = Field(
        1, ge=0, description="Processes `serve` answers HTTP in (uvicorn workers sharing one "
        "port; the processing workers still run once); 0: one per core, at most 4. "
        "docs/serving.md")
    log_level: str = Field("info", description="debug, info, warning or error.")
    blob_dir: Path | None = Field(
        None, description="Where uploaded files and thumbnails live; default <data_dir>/blobs."
    )
    # --- storage (docs/storage.md) -----------------------------------------------------------
    storage: Literal["local", "s3"] = Field(
        "local", description="Where blobs live: `local` (COREVIZ_BLOB_DIR) or `s3` (any "
        "S3-compatible service, the COREVIZ_S3_* settings)."
    )
    s3_endpoint_url: str | None = Field(
        None, description="The S3 service's URL (R2, MinIO, Ceph RGW, Garage ...); unset = AWS."
    )
    s3_bucket: str | None = Field(None, description="The bucket blobs go to (required for s3).")
    s3_region: str | None = Field(None, description="The bucket's region (AWS; `auto` for R2).")
    s3_prefix: str = Field(
        "", description="A key prefix inside the bucket (for example `coreviz/`), to share one."
    )
    s3_addressing_style: Literal["path", "virtual"] = Field(
        "path", description="`path` (bucket in the path: MinIO, Ceph, Garage, most self-hosted) "
        "or `virtual` (bucket in the host name: AWS, R2)."
    )
    s3_access_key_id: str | None = Field(
        None, description="Access key; unset = the standard AWS credential chain (environment, "
        "~/.aws, instance role)."
    )
    s3_secret_access_key: str | None = Field(None, description="Secret of the access key.")
    blob_redirect: bool = Field(
        False, description="S3: answer a blob request with a redirect to a short-lived presigned "
        "URL instead of streaming it through the server (docs/storage.md measures both)."
    )
    private_blobs: bool = Field(
        False, description="Blob URLs need a credential (API key or session) or a signature that "
        "the API's answers carry; default: public, the random key being the secret."
    )
    signed_url_ttl_seconds: int = Field(
        3600, ge=60, description="How long a signed blob URL (private blobs) or a presigned S3 "
        "redirect stays valid."
    )
    trash_days: int = Field(
        30, ge=0, description="Days a deleted item stays in the trash before it is purged "
        "(rows and blobs); 0: purged at the next sweep."
    )
    tus_expiry_hours: int = Field(
        24, ge=1, description="A resumable (tus) upload that receives nothing for this long "
        "expires (410) and what it stored is removed."
    )
    orphan_grace_hours: int = Field(
        24, ge=1, description="A stored blob that no row references is removed by the sweep once "
        "it is this old (a younger one may belong to an upload still committing)."
    )
    max_upload_bytes: int = Field(
        10 * 1024**3, ge=1, description="Largest file one upload may carry (bytes); larger is 413."
    )
    max_image_pixels: int = Field(
        178_956_970, ge=1,
        description="Largest image accepted (width x height); a bigger one is refused with 413 "
        "before it is decoded (decompression bombs).",
    )

    mcp_upload_dirs: str = Field(
        "", description="Directories (separated by the OS path separator) whose files "
        "upload_media may read when called over HTTP at /mcp (default: none; over stdio it "
        "reads the user's own files). docs/mcp.md")

    # --- background processing -------------------------------------------------------------
    workers: int = Field(
        1, ge=0,
        description="Processing workers `serve` runs in its own process (0: none; then run "
        "`coreviz-studio worker` somewhere that reaches the same database).",
    )
    worker_concurrency: int = Field(
        2, ge=1, description="Jobs one worker runs at the same time (threads)."
    )
    job_attempts: int = Field(
        3, ge=1, description="Tries of a processing job before it is marked failed."
    )
    queue_priorities: bool = Field(
        True, description="A person's uploads go before bulk work, and uploaders take turns "
        "(docs/queue.md); false: every job in arrival order (FIFO)."
    )
    job_retry_backoff_seconds: int = Field(
        4, ge=1, description="Wait before retry n of a failed job: this to the power n (4: "
        "4 s, 16 s, 64 s ...)."
    )
    worker_heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often a worker tells the database it is alive."
    )
    stalled_after_seconds: float = Field(
        60.0, gt=0,
        description="A job whose worker sent no heartbeat for this long is run again "
        "(the worker died mid-job).",
    )
    decode_timeout_seconds: float = Field(
        300.0, gt=0, description="Longest time decoding one upload into frames may take."
    )
    decode_memory_mb: int = Field(
        2048, ge=256, description="Address-space cap of the process that decodes one upload."
    )
    frame_max_side: int = Field(
        2048, ge=64, description="Longest side of a stored frame (pixels); larger are scaled down."
    )
    thumbnail_max_side: int = Field(
        384, ge=16, description="Longest side of a frame's thumbnail (pixels)."
    )
    video_max_frames: int = Field(
        40, ge=1, description="Most frames kept from one video (scene changes + interval)."
    )
    video_frame_interval_seconds: float = Field(
        10.0, gt=0, description="A video frame is kept at least this often between scene cuts."
    )
    video_max_seconds: float = Field(
        4 * 3600.0, gt=0, description="Only this much of a video is decoded."
    )
    pdf_max_pages: int = Field(200, ge=1, description="Only this many PDF pages become frames.")

    # --- healing ---------------------------------------------------------------------------
    db_watchdog_seconds: float = Field(
        1.0, gt=0,
        description="How often a process holding the embedded PostgreSQL (serve, worker) checks "
        "that it runs, and starts it again if it died.",
    )
    wait_retry_seconds: float = Field(
        30.0, gt=0,
        description="A job that stopped for want of disk space or the database runs again after "
        "this long (as often as it takes; such runs are not attempts).",
    )
    min_free_disk_mb: int = Field(
        1024, ge=0,
        description="Free space (MB) below which /healthz reports `degraded` for the blob or "
        "data dir's filesystem (0: never). PostgreSQL needs room for its WAL (up to 1 GB).",
    )
    # --- models ----------------------------------------------------------------------------
    models: str = Field(
        "faces,text,moderation,labels,objects,clip,text-embedding",
        description="Models the pipeline runs, comma-separated, or `none`. `objects` and `clip` "
        "run only when their files are in the models dir.",
    )
    models_dir: Path | None = Field(
        None, description="Where hub-kind models live; default <data_dir>/models."
    )
    hub_url: str = Field(
        "https://huggingface.co",
        description="Where `coreviz-studio models fetch` downloads hub-kind models from (a "
        "Hugging Face mirror with the same layout works too).",
    )
    model_threads: int = Field(
        1, ge=1, description="Threads each model uses per call (workers x concurrency x this "
        "should not exceed the cores)."
    )
    moderation_threshold: float = Field(
        0.8, ge=0, le=1, description="NSFW score from which an item is flagged by moderation."
    )
    vision_api_base: str | None = Field(
        None, description="An OpenAI-compatible endpoint (for example http://host:11434/v1) used "
        "for captions, /api/ai/describe and /api/ai/tag; unset = offline models only."
    )
    vision_api_key: str | None = Field(None, description="Bearer key for vision_api_base.")
    vision_api_model: str = Field("llava", description="Model name sent to vision_api_base.")
    vision_api_timeout_seconds: float = Field(
        60.0, gt=0, description="Time limit of one call to vision_api_base."
    )
    image_api_base: str | None = Field(
        None, description="An OpenAI-compatible images endpoint (for example "
        "https://api.openai.com/v1) for /api/ai/edit (POST {base}/images/edits) and "
        "/api/ai/generate (POST {base}/images/generations); unset = both answer 501."
    )
    image_api_key: str | None = Field(None, description="Bearer key for image_api_base.")
    image_api_model: str = Field("gpt-image-1", description="Model name sent to "
                                 "image_api_base (whatever model a client names).")
    image_api_timeout_seconds: float = Field(
        120.0, gt=0, description="Time limit of one call to image_api_base."
    )
    image_api_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest answer read from image_api_base "
        "(bytes of JSON, base64 image included); a bigger one is a 502."
    )
    fetch_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="Largest image /api/ai/* fetches from a URL (bytes)."
    )
    fetch_timeout_seconds: float = Field(
        10.0, gt=0, description="Time limit of fetching an image URL for /api/ai/*."
    )

    # --- search ----------------------------------------------------------------------------
    search_candidates: int = Field(
        500, ge=10, le=100_000,
        description="Nearest frames (or objects) a search takes from the vector index before "
        "filters and paging; text matches are not limited.",
    )
    search_min_similarity: float = Field(
        0.15, ge=-1, le=1,
        description="Cosine similarity below which a frame's vector alone does not make a "
        "result (a text match still does).",
    )
    search_cutoff: bool = Field(
        True, description="Leave out of `q` results what stands out from nothing: a cutoff "
        "that adapts to each query's scores (docs/search.md). Off: every candidate is ranked.",
    )
    understanding_words: bool = Field(
        True, description="Add WordNet's broader words for labels, people, colour and light "
        "words and EXIF date, camera and place to captions and search documents (docs/ai.md).",
    )
    search_ef_search: int = Field(
        100, ge=1, le=1000, description="pgvector HNSW ef_search: higher is more exact, slower."
    )
    search_max_scan_tuples: int = Field(
        20_000, ge=100,
        description="pgvector iterative scans stop after visiting this many index entries "
        "(bounds a search whose filters match little).",
    )

    # --- invitations -----------------------------------------------------------------------
    invitation_ttl_hours: int = Field(
        48, ge=1, le=24 * 365,
        description="How long an invitation to join an organization can be accepted (48 h, as "
        "better-auth's organization plugin); inviting the same email again renews it.",
    )

    # --- limits (shared by every process: kept in PostgreSQL, see ratelimit.py) -------------
    sign_in_free_failures: int = Field(
        5, ge=1,
        description="Wrong passwords one address may try for one account before each further "
        "try from that address waits (other addresses are not slowed).",
    )
    sign_in_source_free_failures: int = Field(
        20, ge=1,
        description="Failed sign-ins one address may make across all accounts before each "
        "further try from it waits (password spraying).",
    )
    sign_in_first_delay_seconds: float = Field(
        2.0, gt=0, description="The first wait after those free failures; it doubles with "
        "each further failure."
    )
    sign_in_max_delay_seconds: float = Field(
        900.0, gt=0, description="The longest wait between two sign-in tries."
    )
    sign_in_forgive_seconds: float = Field(
        3600.0, gt=0, description="One failure of an address on one account is forgotten per "
        "this many seconds (a right password forgets them all at once)."
    )
    sign_in_source_forgive_seconds: float = Field(
        300.0, gt=0, description="One failure of an address (any account) is forgotten per "
        "this many seconds."
    )
    device_codes_per_source: int = Field(
        20, ge=1, description="Device login codes one address may request per "
        "device_limit_window_seconds; more is 429."
    )
    device_user_code_guesses: int = Field(
        10, ge=1, description="User codes one address may look up, approve or deny without "
        "finding them per device_limit_window_seconds; more is 429."
    )
    device_limit_window_seconds: float = Field(
        600.0, gt=0, description="The window of the two device login limits."
    )
    max_json_bytes: int = Field(
        1024 * 1024, ge=1024,
        description="Largest request body other than an upload (bytes), refused with 413 before "
        "it is parsed or its caller authenticated; /api/ai/* also gets room for a "
        "fetch_max_bytes image as a data URL.",
    )
    body_read_timeout_seconds: float = Field(
        30.0, gt=0, description="A request body that sends nothing for this long is dropped "
        "(408) and what it stored is removed."
    )

    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    def model_set(self) -> frozenset[str]:
        names = {n.strip() for n in self.models.split(",") if n.strip()}
        return frozenset() if names <= {"none"} else frozenset(names)

    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
