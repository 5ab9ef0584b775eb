"""Two organizations with a row in every table of library data: what the wall tests attack."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from coreviz_studio.config import Settings
from coreviz_studio.db.session import Database
from coreviz_studio.db.tables import Cluster, DetectedObject
from tests import media_files
from tests.conftest import Member
from tests.jobs import drain, pipeline
from tests.library import Library
from tests.tus_client import Tus


@dataclass
class Org:
    owner: Member
    viewer: Member
    library: Library
    folder: dict[str, Any]
    media: dict[str, Any]
    face_id: str
    cluster_id: str
    upload_id: str  # a resumable upload in progress

    @property
    def ids(self) -> dict[str, str]:
        """An id of this organization for each kind of path or body parameter."""
        return {"org": str(self.owner.org_id), "dataset": self.library.id,
                "media": self.media["id"], "folder": self.folder["id"],
                "cluster": self.cluster_id, "object": self.face_id,
                "member": str(self.viewer.user_id), "key": str(uuid.uuid4()),
                "upload": self.upload_id}


def make_org(client: TestClient, make_member: Any, settings: Settings,
             database: Database) -> Org:
    owner = make_member()
    viewer = make_member(org=_org_name(client, owner), role="viewer")
    lib = Library(client, owner)
    folder = lib.folder("Trips")
    media = lib.upload(media_files.photo("astronaut"), "astronaut.jpg")
    drain(pipeline(settings, database, models="faces,text-embedding"), [media["id"]])
    with database.system_sessions() as s:
        face = s.scalars(select(DetectedObject).where(
            DetectedObject.media_id == uuid.UUID(media["id"]),
            DetectedObject.type == "face")).first()
        assert face is not None and face.cluster_id is not None, "the photo's face was not found"
        cluster = s.get(Cluster, face.cluster_id)
        assert cluster is not None
    upload = Tus(client, lib).new(1000).rsplit("/", 1)[1]
    return Org(owner, viewer, lib, folder, lib.media(media["id"]), str(face.id), str(cluster.id),
               upload)


def _org_name(client: TestClient, member: Member) -> str:
    name: str = client.get("/api/me", headers=member.headers).json()["organizationName"]
    return name
