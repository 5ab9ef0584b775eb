"""The whole schema at a glance.

Every row that belongs to a tenant carries `organization_id`, so one helper in the service layer
can scope any query. Vectors have no fixed dimension in their column (models differ); the HNSW
indexes are partial per model, cast to that model's dimension (see the migrations).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    true,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

ROLES = ("owner", "admin", "member", "viewer")
INVITATION_STATUSES = ("pending", "accepted", "rejected", "canceled")
MEDIA_TYPES = ("image", "video", "pdf", "folder")
OBJECT_TYPES = ("object", "face", "text")


class Ltree(UserDefinedType[str]):
    """PostgreSQL's ltree, exchanged as text."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "LTREE"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, uuid.UUID: UUID(as_uuid=True)}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, default=uuid.uuid4,
        server_default=sql("gen_random_uuid()"),
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


def _org() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False)


def _jsonb(name: str) -> Mapped[dict[str, Any]]:
    """A JSONB object column, named explicitly (the `metadata` attribute is `metadata_`)."""
    return mapped_column(name, JSONB, nullable=False, server_default=sql("'{}'::jsonb"),
                         default=dict)


# --- identity ---------------------------------------------------------------------------------


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    slug: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("users_email_lower_key", func.lower(sql("email")), unique=True),)
    id: Mapped[uuid.UUID] = _id()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # The organization /api/me answers for; switching it is an explicit call.
    active_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        CheckConstraint(f"role IN {ROLES}", name="memberships_role_check"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="member")
    created_at: Mapped[datetime] = _created()


class ApiKey(Base):
    """Only a SHA-256 of the secret is stored; `prefix` is the part shown to people."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The key's scope: read-only, and/or only these collections (None: all of them).
    read_only: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    dataset_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))


class Invitation(Base):
    """An offer of membership to an email; a membership exists only once its invitee accepts."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="invitations_role_check"),
        CheckConstraint(f"status IN {INVITATION_STATUSES}", name="invitations_status_check"),
        Index("invitations_one_pending", "organization_id", func.lower(sql("email")),
              unique=True, postgresql_where=sql("status = 'pending'")),
        Index("invitations_email_idx", func.lower(sql("email")),
              postgresql_where=sql("status = 'pending'")),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, server_default="member")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    inviter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = _created()


class AuthSession(Base):
    """A bearer token (sign-in or device login); stored hashed, expiring, revocable."""

    __tablename__ = "sessions"
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(Text)


class DeviceCode(Base):
    """RFC 8628 device authorization; the device code is stored hashed and works once."""

    __tablename__ = "device_codes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'consumed')", name="device_codes_status"
        ),
        Index("device_codes_expires_idx", "expires_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    device_code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(Text, nullable=False)
    scope: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="5")
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RateLimit(Base):
    """One counted key of a limit (ratelimit.py): a level that leaks away with time, and the
    moment the key may try again. Purged once `expires_at` has passed."""

    __tablename__ = "rate_limits"
    __table_args__ = (Index("rate_limits_expires_idx", "expires_at"),)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    level: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# --- the library ------------------------------------------------------------------------------


class Dataset(Base):
    """A collection ("dataset" on the wire)."""

    __tablename__ = "datasets"
    __table_args__ = (Index("datasets_org_idx", "organization_id", "created_at"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    icon: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32), nullable=False, server_default="default")
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    # Migration 0013: moved by the database at the commit of any change of this collection's
    # media (media/offsets.py); never written by the application.
    browse_generation: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class Media(Base):
    """Images, videos, PDFs and folders (type=folder), placed in a tree by the ltree `path`.

    `path` ends with the row's own id: `<datasetHex>.<idHex>` at the root of a collection,
    `<datasetHex>.<folderHex>.<idHex>` inside a folder (see media/paths.py). Versions share a
    `root_id` (an original is its own root); exactly one row per root has `is_active_version`.
    """

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(f"type IN {MEDIA_TYPES}", name="media_type_check"),
        CheckConstraint("status IN ('active', 'deleted')", name="media_status_check"),
        Index("media_path_gist", "path", postgresql_using="gist"),
        Index("media_metadata_gin", "metadata", postgresql_using="gin",
              postgresql_ops={"metadata": "jsonb_path_ops"}),
        Index("media_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
        Index("media_browse_idx", "dataset_id", "status", "created_at"),
        Index("media_org_sha_idx", "organization_id", "sha256"),
        Index("media_root_idx", "root_id"),
        Index("media_one_active_version", "root_id", unique=True,
              postgresql_where=sql("is_active_version AND root_id IS NOT NULL")),
        # Migration 0007: a blob key's holder (blobs/refs.py), the trash and the purge.
        Index("media_blob_key_idx", "blob_key", postgresql_where=sql("blob_key IS NOT NULL")),
        Index("media_deleted_with_idx", "deleted_with",
              postgresql_where=sql("deleted_with IS NOT NULL")),
        Index("media_trashed_idx", "deleted_at", postgresql_where=sql("status = 'deleted'")),
        # Migration 0010: the item's thumbnail is a blob key like the others.
        Index("media_thumbnail_key_idx", "thumbnail_key",
              postgresql_where=sql("thumbnail_key IS NOT NULL")),
        # Migration 0011: near-duplicates are looked for within a collection.
        Index("media_perceptual_hash_idx", "dataset_id", "perceptual_hash",
              postgresql_where=sql("perceptual_hash IS NOT NULL")),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # Migration 0013: lower(name), stored by the database, for listings by name (an index
    # condition on lower(name) itself is refused under row-level security: not leakproof).
    name_key: Mapped[str] = mapped_column(Text, Computed("lower(name)", persisted=True))
    path: Mapped[str] = mapped_column(Ltree, nullable=False)
    blob_key: Mapped[str | None] = mapped_column(Text)
    # The grid's preview (docs/thumbnails.md); NULL until processing makes it, and for folders.
    thumbnail_key: Mapped[str | None] = mapped_column(Text)
    mime_type: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    page_count: Mapped[int | None] = mapped_column(Integer)
    # The shown frame's pHash (docs/duplicates.md); NULL until processed, and for folders.
    perceptual_hash: Mapped[int | None] = mapped_column(BigInteger)
    # What text search reads (search/document.py keeps it current; migration 0003 indexes it).
    search_text: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    search_vector = mapped_column(TSVECTOR, Computed("to_tsvector('english', search_text)",
                                                     persisted=True))
    exif: Mapped[dict[str, Any]] = _jsonb("exif")
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The item whose deletion put this row in the trash (itself, or the folder it was under);
    # migration 0007 and docs/lifecycle.md.
    deleted_with: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    root_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    is_active_version: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                    server_default="true")
    version_number: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


def visible_media() -> list[Any]:
    """The media a listing shows (active, the active version), written as the browse indexes'
    predicate (migration 0002) with its values in the SQL text: a bound 'active' would hide
    that predicate from a generic plan (psycopg prepares a statement after five runs), which
    then cannot use the partial indexes and walks media_browse_idx and the heap (~10x slower)."""
    return [Media.status == literal_column("'active'", String()), Media.is_active_version == true()]


class Frame(Base):
    """A processed view of a media: 1 for an image, many for a video, one per PDF page."""

    __tablename__ = "frames"
    __table_args__ = (
        UniqueConstraint("media_id", "frame_index"),
        Index("frames_text_fts", sql("to_tsvector('simple', coalesce(text, ''))"),
              postgresql_using="gin"),
        Index("frames_blob_key_idx", "blob_key", postgresql_where=sql("blob_key IS NOT NULL")),
        Index("frames_thumbnail_key_idx", "thumbnail_key",
              postgresql_where=sql("thumbnail_key IS NOT NULL")),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), nullable=False
    )
    frame_index: Mapped[int] = mapped_column(Integer, nullable=False)
    timestamp: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    end_timestamp: Mapped[float | None] = mapped_column(Float)
    page_number: Mapped[int | None] = mapped_column(Integer)
    blob_key: Mapped[str | None] = mapped_column(Text)
    thumbnail_key: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Caption(Base):
    __tablename__ = "captions"
    __table_args__ = (
        UniqueConstraint("frame_id", "model"),
        Index("captions_text_fts", sql("to_tsvector('english', text)"), postgresql_using="gin"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    frame_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("frames.id", ondelete="CASCADE"), nullable=False
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Cluster(Base):
    """A group of similar faces or objects; a name on a face cluster is a person's name."""

    __tablename__ = "clusters"
    __table_args__ = (Index("clusters_org_kind_idx", "organization_id", "kind"),)
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    centroid = mapped_column(Vector(), nullable=True)
    member_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class DetectedObject(Base):
    """Something a detector found in a frame: `type` says which detector, `label` what it is."""

    __tablename__ = "objects"
    __table_args__ = (
        CheckConstraint("bbox_width >= 0 AND bbox_height >= 0", name="objects_bbox_check"),
        Index("objects_frame_idx", "frame_id"),
        Index("objects_media_idx", "media_id"),
        Index("objects_org_type_idx", "organization_id", "type"),
        Index("objects_cluster_idx", "cluster_id"),
        Index("objects_label_trgm", "label", postgresql_using="gin",
              postgresql_ops={"label": "gin_trgm_ops"}),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), nullable=False
    )
    frame_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("frames.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    bbox_x: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_y: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_width: Mapped[float] = mapped_column(Float, nullable=False)
    bbox_height: Mapped[float] = mapped_column(Float, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    embedding_model: Mapped[str | None] = mapped_column(Text)
    embedding = mapped_column(Vector(), nullable=True)
    cluster_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clusters.id", ondelete="SET NULL")
    )
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    created_at: Mapped[datetime] = _created()


class Embedding(Base):
    """A vector of a whole frame (image), or of the text known about it, by one model."""

    __tablename__ = "embeddings"
    __table_args__ = (
        UniqueConstraint("frame_id", "kind", "model"),
        Index("embeddings_scope_idx", "organization_id", "dataset_id", "model"),
        Index("embeddings_media_idx", "media_id"),  # the cascade from a purged media (0007)
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    media_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), nullable=False
    )
    frame_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("frames.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # image | text
    model: Mapped[str] = mapped_column(Text, nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding = mapped_column(Vector(), nullable=False)
    created_at: Mapped[datetime] = _created()


class ServerSecret(Base):
    """Secrets every server process shares (the blob URL signing key); owner-only (0007)."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()


class TusUpload(Base):
    """A resumable (tus) upload: its bytes are in the blob store (`store_state` is the store's
    handle), `offset` of `length` of them so far. Finished, it keeps the upload's answer
    (`result`) until it expires, so a client that lost the final response can still read it."""

    __tablename__ = "tus_uploads"
    __table_args__ = (
        CheckConstraint('"offset" >= 0 AND "offset" <= length', name="tus_offset_check"),
        Index("tus_uploads_expires_idx", "expires_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    organization_id: Mapped[uuid.UUID] = _org()
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    metadata_: Mapped[dict[str, Any]] = _jsonb("metadata")
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    store_state: Mapped[str] = mapped_column(Text, nullable=False)
    head: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
