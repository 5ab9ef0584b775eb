"""Every API call as data: method, path, query, body and how to read the answer. The sync and
the async client run the same `Call`s, so a route's shape is written once, here.
(route_map.py says which client method calls each route of the server.)"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from coreviz_studio.client import models as m

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None  # None: by the method (GET, HEAD, OPTIONS, PUT, DELETE)

    @property
    def retry_on_connection_error(self) -> bool:
        return self.method in IDEMPOTENT if self.idempotent is None else self.idempotent


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _model(kind: type[M], key: str | None = None) -> Callable[[httpx.Response], M]:
    def read(r: httpx.Response) -> M:
        data = r.json()
        return kind.model_validate(data[key] if key else data)
    return read


def _list(kind: type[M], key: str | None = None) -> Callable[[httpx.Response], list[M]]:
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]

    def read(r: httpx.Response) -> list[M]:
        data = r.json()
        if isinstance(data, dict) and key:
            data = data[key]
        result: list[M] = adapter.validate_python(data)
        return result
    return read


def _json(r: httpx.Response) -> Any:
    return r.json()


def _bytes(r: httpx.Response) -> bytes:
    return r.content


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, dict):
            v = jsonlib.dumps(v)
        out[k] = v
    return out


def _body(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# --- health, identity ---------------------------------------------------------------------------

def health() -> Call[m.Health]:
    return Call("GET", "/healthz", _model(m.Health))


def me() -> Call[m.Me]:
    return Call("GET", "/api/me", _model(m.Me))


def list_organizations() -> Call[list[m.Organization]]:
    return Call("GET", "/api/auth/organization/list", _list(m.Organization))


def set_active_organization(organization_id: str) -> Call[m.Organization]:
    return Call("POST", "/api/auth/organization/set-active", _model(m.Organization),
                json={"organizationId": organization_id})


def list_members() -> Call[m.Members]:
    return Call("GET", "/api/auth/organization/list-members", _model(m.Members))


def update_member_role(member_id: str, role: str) -> Call[m.Member]:
    return Call("POST", "/api/auth/organization/update-member-role", _model(m.Member),
                json={"memberId": member_id, "role": role})


def remove_member(member_id_or_email: str) -> Call[m.RemovedMember]:
    return Call("POST", "/api/auth/organization/remove-member", _model(m.RemovedMember),
                json={"memberIdOrEmail": member_id_or_email})


def invite_member(email: str, role: str = "member", organization_id: str | None = None,
                  resend: bool | None = None) -> Call[m.Invitation]:
    return Call("POST", "/api/auth/organization/invite-member", _model(m.Invitation),
                json=_body(email=email, role=role, organizationId=organization_id,
                           resend=resend))


def list_invitations(organization_id: str | None = None) -> Call[list[m.Invitation]]:
    return Call("GET", "/api/auth/organization/list-invitations", _list(m.Invitation),
                params=_clean({"organizationId": organization_id}))


def cancel_invitation(invitation_id: str) -> Call[m.Invitation]:
    return Call("POST", "/api/auth/organization/cancel-invitation", _model(m.Invitation),
                json={"invitationId": invitation_id})


def get_invitation(invitation_id: str) -> Call[m.Invitation]:
    return Call("GET", "/api/auth/organization/get-invitation", _model(m.Invitation),
                params={"id": invitation_id})


def list_user_invitations() -> Call[list[m.Invitation]]:
    return Call("GET", "/api/auth/organization/list-user-invitations", _list(m.Invitation))


def accept_invitation(invitation_id: str) -> Call[m.InvitationAnswer]:
    return Call("POST", "/api/auth/organization/accept-invitation", _model(m.InvitationAnswer),
                json={"invitationId": invitation_id})


def reject_invitation(invitation_id: str) -> Call[m.InvitationAnswer]:
    return Call("POST", "/api/auth/organization/reject-invitation", _model(m.InvitationAnswer),
                json={"invitationId": invitation_id})


# --- auth ---------------------------------------------------------------------------------------

def sign_in(email: str, password: str, remember_me: bool | None = None) -> Call[m.SignedIn]:
    # A refused sign-in (429) did nothing, so retrying it is safe; a lost answer is not retried.
    return Call("POST", "/api/auth/sign-in/email", _model(m.SignedIn),
                json=_body(email=email, password=password, rememberMe=remember_me))


def sign_out() -> Call[m.Success]:
    return Call("POST", "/api/auth/sign-out", _model(m.Success))


def get_session() -> Call[m.SessionInfo | None]:
    def read(r: httpx.Response) -> m.SessionInfo | None:
        data = r.json()
        return None if data is None else m.SessionInfo.model_validate(data)
    return Call("GET", "/api/auth/get-session", read)


def device_code(client_id: str = "coreviz-cli", scope: str | None = None) -> Call[m.DeviceCode]:
    return Call("POST", "/api/auth/device/code", _model(m.DeviceCode),
                json=_body(client_id=client_id, scope=scope))


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def device_token(device_code: str, client_id: str = "coreviz-cli") -> Call[m.DeviceToken]:
    return Call("POST", "/api/auth/device/token", _model(m.DeviceToken),
                json={"grant_type": DEVICE_GRANT, "device_code": device_code,
                      "client_id": client_id})


def device_verify(user_code: str) -> Call[m.DeviceCodeStatus]:
    return Call("GET", "/api/auth/device", _model(m.DeviceCodeStatus),
                params={"user_code": user_code})


def device_approve(user_code: str) -> Call[m.Success]:
    return Call("POST", "/api/auth/device/approve", _model(m.Success),
                json={"userCode": user_code})


def device_deny(user_code: str) -> Call[m.Success]:
    return Call("POST", "/api/auth/device/deny", _model(m.Success), json={"userCode": user_code})


def create_api_key(name: str | None = None, expires_in: int | None = None,
                   read_only: bool = False,
                   collections: list[str] | None = None) -> Call[m.ApiKeyCreated]:
    return Call("POST", "/api/auth/api-key/create", _model(m.ApiKeyCreated),
                json=_body(name=name, expiresIn=expires_in, readOnly=read_only,
                           collections=collections))


def list_api_keys() -> Call[list[m.ApiKey]]:
    return Call("GET", "/api/auth/api-key/list", _list(m.ApiKey))


def delete_api_key(key_id: str) -> Call[m.Success]:
    return Call("POST", "/api/auth/api-key/delete", _model(m.Success), json={"keyId": key_id})


# --- collections --------------------------------------------------------------------------------

def list_collections(organization_id: str) -> Call[list[m.Collection]]:
    return Call("GET", f"/api/organization/{_seg(organization_id)}/datasets",
                _list(m.Collection, "datasets"))


def create_collection(organization_id: str, name: str,
                      icon: str | None = None) -> Call[m.Collection]:
    return Call("POST", f"/api/organization/{_seg(organization_id)}/datasets",
                _model(m.Collection), json=_body(name=name, icon=icon))


def get_collection(collection_id: str) -> Call[m.Collection]:
    return Call("GET", f"/api/dataset/{_seg(collection_id)}", _model(m.Collection, "dataset"))


_UNSET: Any = object()


def update_collection(collection_id: str, name: str | None = None,
                      icon: str | None = _UNSET) -> Call[m.Collection]:
    body = _body(name=name)
    if icon is not _UNSET:
        body["icon"] = icon  # None clears it
    return Call("PATCH", f"/api/dataset/{_seg(collection_id)}", _model(m.Collection, "dataset"),
                json=body)


def browse_params(limit: int | None = None, offset: int | None = None,
                  sort_by: str | None = None, sort_direction: str | None = None,
                  path: str | None = None, recursive: bool | None = None,
                  type: str | None = None, date_from: str | None = None,
                  date_to: str | None = None, tags: list[str] | str | None = None,
                  tag_filters: dict[str, list[str]] | None = None,
                  media_id: str | None = None, cluster_id: str | None = None,
                  q: str | None = None, similar_to_object_id: str | None = None,
                  similar_to_object_model: str | None = None) -> dict[str, Any]:
    return _clean({"limit": limit, "offset": offset, "sortBy": sort_by,
                   "sortDirection": sort_direction, "path": path, "recursive": recursive,
                   "type": type, "dateFrom": date_from, "dateTo": date_to, "tags": tags,
                   "tagFilters": tag_filters, "mediaId": media_id, "clusterId": cluster_id,
                   "q": q, "similarToObjectId": similar_to_object_id,
                   "similarToObjectModel": similar_to_object_model})


def browse_media(collection_id: str, params: Mapping[str, Any]) -> Call[m.MediaPage]:
    return Call("GET", f"/api/dataset/{_seg(collection_id)}/media", _model(m.MediaPage),
                params=params)


def get_tags(collection_id: str) -> Call[dict[str, list[str]]]:
    def read(r: httpx.Response) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = r.json()["tags"]
        return tags
    return Call("GET", f"/api/dataset/{_seg(collection_id)}/tags", read)


def list_trash(collection_id: str, limit: int | None = None,
               offset: int | None = None) -> Call[m.MediaPage]:
    return Call("GET", f"/api/dataset/{_seg(collection_id)}/trash", _model(m.MediaPage),
                params=_clean({"limit": limit, "offset": offset}))


def list_duplicates(collection_id: str, limit: int | None = None,
                    offset: int | None = None) -> Call[m.DuplicatesPage]:
    return Call("GET", f"/api/dataset/{_seg(collection_id)}/duplicates",
                _model(m.DuplicatesPage), params=_clean({"limit": limit, "offset": offset}))


def reprocess_collection(collection_id: str,
                         failed_only: bool | None = None) -> Call[m.CollectionRequeued]:
    return Call("POST", f"/api/dataset/{_seg(collection_id)}/reprocess",
                _model(m.CollectionRequeued), params=_clean({"failedOnly": failed_only}))


def queue_status(collection_id: str | None = None) -> Call[m.QueueStatus]:
    return Call("GET", "/api/queue", _model(m.QueueStatus),
                params=_clean({"datasetId": collection_id}))


# --- media --------------------------------------------------------------------------------------

def get_media(media_id: str) -> Call[m.Media]:
    return Call("GET", f"/api/media/{_seg(media_id)}", _model(m.Media, "media"))


def update_media(media_id: str, name: str | None = None,
                 metadata: dict[str, Any] | None = None) -> Call[m.Media]:
    return Call("PATCH", f"/api/media/{_seg(media_id)}", _model(m.Media, "media"),
                json=_body(name=name, metadata=metadata))


def delete_media(media_id: str, permanent: bool = False) -> Call[m.Deleted]:
    return Call("DELETE", f"/api/media/{_seg(media_id)}", _model(m.Deleted),
                params=_clean({"permanent": True} if permanent else {}))


def restore_media(media_id: str) -> Call[m.Restored]:
    return Call("POST", f"/api/media/{_seg(media_id)}/restore", _model(m.Restored),
                idempotent=True)


def move_item(media_id: str, destination_path: str) -> Call[m.Moved]:
    return Call("PATCH", f"/api/media/{_seg(media_id)}/move", _model(m.Moved),
                json={"destinationPath": destination_path}, idempotent=True)


def list_versions(media_id: str) -> Call[list[m.Media]]:
    return Call("GET", f"/api/media/{_seg(media_id)}/versions", _list(m.Media, "versions"))


def delete_version(root_id: str, version_id: str) -> Call[m.DeletedVersion]:
    return Call("DELETE", f"/api/media/{_seg(root_id)}/versions", _model(m.DeletedVersion),
                params={"versionId": version_id})


def select_version(version_id: str) -> Call[m.Media]:
    return Call("PATCH", f"/api/media/{_seg(version_id)}/select-version",
                _model(m.Media, "media"), idempotent=True)


def reprocess_media(media_id: str) -> Call[m.MediaRequeued]:
    return Call("POST", f"/api/media/{_seg(media_id)}/reprocess", _model(m.MediaRequeued),
                idempotent=True)


def add_tag(media_id: str, label: str, value: str) -> Call[m.MediaTags]:
    return Call("POST", f"/api/media/{_seg(media_id)}/tags", _model(m.MediaTags),
                json={"label": label, "value": value}, idempotent=True)


def remove_tag(media_id: str, label: str, value: str | None = None) -> Call[m.MediaTags]:
    return Call("DELETE", f"/api/media/{_seg(media_id)}/tags", _model(m.MediaTags),
                json=_body(label=label, value=value))


def rename_tag_group(media_id: str, old_label: str, new_label: str) -> Call[m.MediaTags]:
    return Call("PATCH", f"/api/media/{_seg(media_id)}/tags", _model(m.MediaTags),
                json={"oldLabel": old_label, "newLabel": new_label}, idempotent=True)


# --- folders ------------------------------------------------------------------------------------

def create_folder(collection_id: str, name: str, path: str | None = None,
                  reuse: bool = False) -> Call[m.Folder]:
    return Call("POST", "/api/folder", _model(m.Folder, "folder"),
                json=_body(datasetId=collection_id, name=name, path=path, reuse=reuse or None),
                idempotent=reuse)


def get_folder(folder_id: str) -> Call[m.Folder]:
    return Call("GET", f"/api/folder/{_seg(folder_id)}", _model(m.Folder, "folder"))


def update_folder(folder_id: str, name: str | None = None,
                  metadata: dict[str, Any] | None = None) -> Call[m.Folder]:
    return Call("PATCH", f"/api/folder/{_seg(folder_id)}", _model(m.Folder, "folder"),
                json=_body(name=name, metadata=metadata), idempotent=True)


def delete_folder(folder_id: str) -> Call[m.Deleted]:
    return Call("DELETE", f"/api/folder/{_seg(folder_id)}", _model(m.Deleted))


# --- AI, search, clusters -----------------------------------------------------------------------

def describe(image: str, prompt: str | None = None) -> Call[m.Description]:
    return Call("POST", "/api/ai/describe", _model(m.Description),
                json=_body(image=image, prompt=prompt), idempotent=True)


def tag(image: str, prompt: str, options: list[str] | None = None,
        multiple: bool | None = None) -> Call[m.Tagging]:
    return Call("POST", "/api/ai/tag", _model(m.Tagging),
                json=_body(image=image, prompt=prompt, options=options, multiple=multiple),
                idempotent=True)


def embed(image: str | None = None, text: str | None = None) -> Call[m.Embedding]:
    return Call("POST", "/api/ai/embed", _model(m.Embedding), json=_body(image=image, text=text),
                idempotent=True)


def edit(prompt: str, image: str | list[str] | None = None, *, media_id: str | None = None,
         aspect_ratio: str | None = None, output_format: str | None = None) -> Call[m.Generated]:
    return Call("POST", "/api/ai/edit", _model(m.Generated), json=_body(
        image=image, prompt=prompt, mediaId=media_id, aspectRatio=aspect_ratio,
        outputFormat=output_format))


def generate(prompt: str, image: str | list[str] | None = None, *,
             dataset_id: str | None = None, path: str | None = None, name: str | None = None,
             aspect_ratio: str | None = None,
             output_format: str | None = None) -> Call[m.Generated]:
    return Call("POST", "/api/ai/generate", _model(m.Generated), json=_body(
        image=image, prompt=prompt, datasetId=dataset_id, path=path, name=name,
        aspectRatio=aspect_ratio, outputFormat=output_format))


def search(q: str, organization_id: str | None = None,
           limit: int | None = None) -> Call[list[m.SearchHit]]:
    return Call("GET", "/api/search", _list(m.SearchHit, "results"),
                params=_clean({"q": q, "organizationId": organization_id, "limit": limit}))


def list_clusters(kind: str | None = None, collection_id: str | None = None,
                  limit: int | None = None, offset: int | None = None) -> Call[m.ClusterPage]:
    return Call("GET", "/api/clusters", _model(m.ClusterPage),
                params=_clean({"kind": kind, "datasetId": collection_id, "limit": limit,
                               "offset": offset}))


def get_cluster(cluster_id: str) -> Call[m.Cluster]:
    return Call("GET", f"/api/clusters/{_seg(cluster_id)}", _model(m.Cluster, "cluster"))


def name_cluster(cluster_id: str, name: str | None) -> Call[m.Cluster]:
    return Call("PATCH", f"/api/clusters/{_seg(cluster_id)}", _model(m.Cluster, "cluster"),
                json={"name": name}, idempotent=True)


def cluster_media(cluster_id: str, limit: int | None = None,
                  offset: int | None = None) -> Call[m.MediaPage]:
    return Call("GET", f"/api/clusters/{_seg(cluster_id)}/media", _model(m.MediaPage),
                params=_clean({"limit": limit, "offset": offset}))


def get_upload_result(upload_url: str) -> Call[m.UploadResult]:
    return Call("GET", upload_url, _model(m.UploadResult))


def read_blob(url: str) -> Call[bytes]:
    return Call("GET", url, _bytes)


def _blob_info(r: httpx.Response) -> m.BlobInfo:
    size = r.headers.get("content-length")
    return m.BlobInfo(size=int(size) if size else None,
                      content_type=r.headers.get("content-type"), etag=r.headers.get("etag"))


def blob_info(url: str) -> Call[m.BlobInfo]:
    return Call("HEAD", url, _blob_info)
