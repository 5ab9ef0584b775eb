"""The client's own models of the wire (camelCase on the wire, snake_case in Python).

They are tolerant on purpose: unknown fields are kept (`model_extra`), and most fields have a
default, so a newer server that adds a field, or an older one that lacks one, still parses.
The server's schemas are not reused: they are built from database rows (validation aliases
such as `metadata_`), forbid unknown input, and would tie the client to the server's package
(docs/client.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Success(Model):
    success: bool = True


class Health(Model):
    status: str
    database: str | None = None
    schema_revision: str | None = None
    version: str | None = None
    disk: dict[str, Any] | None = None
    problems: list[Any] | None = None


# --- identity, organizations, members, invitations ------------------------------------------

class Me(Model):
    user_id: str
    email: str
    name: str
    organization_id: str
    organization_name: str
    role: str | None = None


class Organization(Model):
    id: str
    name: str
    slug: str
    role: str | None = None
    created_at: datetime | None = None


class MemberUser(Model):
    id: str
    email: str
    name: str


class Member(Model):
    id: str
    organization_id: str
    user_id: str
    role: str
    created_at: datetime | None = None
    user: MemberUser


class Members(Model):
    members: list[Member]
    total: int


class RemovedMember(Model):
    member: Member


class Invitation(Model):
    id: str
    organization_id: str
    email: str
    role: str
    status: str
    inviter_id: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    organization_name: str | None = None
    organization_slug: str | None = None
    inviter_email: str | None = None


class InvitationAnswer(Model):
    invitation: Invitation
    member: Member | None = None


# --- auth ---------------------------------------------------------------------------------------

class User(Model):
    id: str
    email: str
    name: str
    email_verified: bool | None = None
    image: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SignedIn(Model):
    token: str
    user: User
    redirect: bool = False
    url: str | None = None


class Session(Model):
    id: str
    user_id: str
    expires_at: datetime | None = None
    created_at: datetime | None = None
    active_organization_id: str | None = None
    kind: str | None = None


class SessionInfo(Model):
    session: Session
    user: User


class DeviceCode(Model):
    device_code: str = Field(alias="device_code")
    user_code: str = Field(alias="user_code")
    verification_uri: str = Field(alias="verification_uri")
    verification_uri_complete: str | None = Field(None, alias="verification_uri_complete")
    expires_in: int = Field(alias="expires_in")
    interval: int = 5


class DeviceToken(Model):
    access_token: str = Field(alias="access_token")
    token_type: str = Field("Bearer", alias="token_type")
    expires_in: int | None = Field(None, alias="expires_in")
    scope: str | None = None


class DeviceCodeStatus(Model):
    user_code: str = Field(alias="user_code")
    status: str
    client_id: str | None = Field(None, alias="client_id")
    scope: str | None = None
    expires_at: datetime | None = None


class ApiKey(Model):
    id: str
    name: str
    start: str
    prefix: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    enabled: bool = True
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    read_only: bool = False
    collections: list[str] | None = None


class ApiKeyCreated(ApiKey):
    key: str  # the secret, shown once

    def __repr_args__(self) -> Any:  # never print the secret
        return [(k, "***" if k == "key" else v) for k, v in super().__repr_args__()]


# --- library --------------------------------------------------------------------------------------

class Collection(Model):
    """A collection ("dataset" on the wire)."""

    id: str
    name: str
    icon: str | None = None
    type: str | None = None
    organization_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Folder(Model):
    id: str
    name: str
    type: str = "folder"
    path: str
    parent_path: str | None = None
    collection_id: str | None = None
    dataset_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class BBox(Model):
    x: float
    y: float
    width: float
    height: float


class Caption(Model):
    id: str
    text: str
    frame_id: str | None = None
    model: str | None = None


class DetectedObject(Model):
    id: str
    type: str
    label: str
    confidence: float | None = None
    bbox: BBox | None = None
    model: str | None = None
    frame_id: str | None = None
    media_id: str | None = None
    cluster_id: str | None = None


class Frame(Model):
    id: str
    timestamp: str | None = None
    end_timestamp: str | None = None
    blob: str | None = None
    thumbnail_blob: str | None = None
    width: int | None = None
    height: int | None = None
    page_number: int | None = None
    text: str | None = None
    status: str | None = None
    captions: list[Caption] = Field(default_factory=list)
    objects: list[DetectedObject] = Field(default_factory=list)


class Media(Model):
    """A media item (image, video, pdf) or a folder, as browse and get answer it."""

    id: str
    name: str
    type: str
    path: str = ""
    blob: str | None = None
    thumbnail: str | None = None
    collection_id: str | None = None
    dataset_id: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    page_count: int | None = None
    size_bytes: int | None = None
    mime_type: str | None = None
    sha256: str | None = None
    exif: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    root_id: str | None = None
    version_number: int | None = None
    is_active_version: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    frames: list[Frame] = Field(default_factory=list)
    score: float | None = Field(None, alias="_score")

    @property
    def tags(self) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = self.metadata.get("tags") or {}
        return tags


class Pagination(Model):
    total: int
    limit: int
    offset: int
    has_more: bool


class MediaPage(Model):
    media: list[Media]
    pagination: Pagination


class DuplicateGroup(Model):
    media_ids: list[str]
    similarity: float
    kind: str  # exact | near


class DuplicatesPage(Model):
    groups: list[DuplicateGroup]
    pagination: Pagination


class Deleted(Model):
    id: str
    deleted: bool = True
    deleted_count: int = 1


class Moved(Model):
    id: str
    new_path: str
    moved_count: int = 1


class Restored(Model):
    id: str
    new_path: str
    restored_count: int = 1


class DeletedVersion(Model):
    deleted_id: str
    promoted_id: str | None = None


class MediaTags(Model):
    media_id: str
    tags: dict[str, list[str]]


class MediaRequeued(Model):
    media_id: str
    queued: bool
    processing: dict[str, Any] = Field(default_factory=dict)


class CollectionRequeued(Model):
    queued: int
    already_queued: int


class OldestWaiting(Model):
    id: str
    name: str = ""
    queued_at: str | None = None
    dataset_id: str = ""


class QueueStatus(Model):
    """Items by processing state, and the one that has waited longest (GET /api/queue)."""

    queued: int = 0
    processing: int = 0
    failed: int = 0
    ready: int = 0
    oldest_waiting: OldestWaiting | None = None
    with_failed_step: int = 0  # ready items one of whose processing steps failed


class UploadResult(Model):
    media_id: str
    url: str
    message: str = ""
    duplicate_of: str | None = None  # an item of the collection with the same bytes


# --- AI, search, clusters -----------------------------------------------------------------------

class Description(Model):
    description: str
    model: str | None = None
    note: str | None = None  # a prompt the offline models could not answer: why


class Tagging(Model):
    tags: list[str]
    model: str | None = None
    confidence: float | None = None  # options chosen offline: how sure, 0..1
    evidence: str | None = None


class Embedding(Model):
    embedding: list[float]
    model: str | None = None
    dim: int | None = None


class Generated(Model):
    result: str
    model: str | None = None
    media_id: str | None = None  # the item it was kept as
    url: str | None = None


class SearchMedia(Model):
    id: str
    name: str
    type: str


class SearchHit(Model):
    media: SearchMedia
    blob: str | None = None
    thumbnail: str | None = None
    objects: list[dict[str, Any]] = Field(default_factory=list)
    rank: float
    captions: list[dict[str, str]] = Field(default_factory=list)
    frame_id: str | None = None


class SearchResults(Model):
    results: list[SearchHit]


class ClusterCover(Model):
    object_id: str
    media_id: str
    frame_id: str | None = None
    bbox: dict[str, float] = Field(default_factory=dict)
    thumbnail_blob: str | None = None


class Cluster(Model):
    id: str
    kind: str
    label: str | None = None
    name: str | None = None
    model: str | None = None
    member_count: int = 0
    cover: ClusterCover | None = None


class ClusterPage(Model):
    clusters: list[Cluster]
    pagination: dict[str, Any] = Field(default_factory=dict)


class BlobInfo(Model):
    """What HEAD of a blob URL says."""

    size: int | None = None
    content_type: str | None = None
    etag: str | None = None


class TusOptions(Model):
    """What OPTIONS /api/upload/tus says (headers)."""

    version: str
    extensions: list[str]
    checksum_algorithms: list[str]
    max_size: int | None = None


class TusStatus(Model):
    """What HEAD of an upload says (headers)."""

    offset: int
    length: int | None = None
    expires: str | None = None
    media_id: str | None = None
    media_url: str | None = None
