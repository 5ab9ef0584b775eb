"""The asynchronous client: `AsyncClient(...)`, the same methods as Client, awaited.

The methods mirror _sync.py one for one (tests/test_client_async.py checks that the two
have the same methods and parameters)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, BinaryIO, TypeVar

import httpx

from coreviz_studio.client import calls, paging
from coreviz_studio.client import models as m
from coreviz_studio.client.calls import Call
from coreviz_studio.client.config import (
    USER_AGENT,
    Retry,
    credential_headers,
    is_retryable,
    resolve,
)
from coreviz_studio.client.errors import APIError, BadRequest, ConnectionFailed, from_response
from coreviz_studio.client.tus import (
    MULTIPART_BELOW,
    TUS,
    TUS_PATH,
    AsyncUpload,
    Progress,
    Source,
    multipart_fields,
    open_source,
    options_of,
    status_of,
)

T = TypeVar("T")


class AsyncClient:
    """A typed client of the CoreViz Studio API. The server and credential default to the
    official CLI's variables COREVIZ_API_URL and COREVIZ_API_KEY; `token=` sends a bearer
    token instead of an API key. Use it as a context manager, or call close()."""

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None,
                 token: str | None = None, organization_id: str | None = None,
                 timeout: float | httpx.Timeout = 60.0, retry: Retry | None = None,
                 user_agent: str | None = None, http: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.base_url, api_key, token = resolve(base_url, api_key, token)
        self.retry = retry or Retry()
        self._sleep = sleep
        self._organization_id = organization_id
        self.retries = 0  # how many times a request was sent again (for callers and tests)
        # Sent with each request rather than set on the httpx client, so that one handed in
        # (`http=`: a TestClient, a client with its own proxies or certificates) gets them too.
        self._headers = {"User-Agent": user_agent or USER_AGENT, "Accept": "application/json",
                         **credential_headers(api_key, token)}
        self._http = http or httpx.AsyncClient(
            base_url=self.base_url, transport=transport, follow_redirects=False,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(
                timeout, connect=min(10.0, timeout)))
        self._credential = "token" if token else "api_key" if api_key else None

    def __repr__(self) -> str:  # the credential's kind, never its value
        return f"AsyncClient({self.base_url!r}, credential={self._credential})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- plumbing ---------------------------------------------------------------------------

    async def request(self, method: str, url: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None, files: Any = None,
                data: Mapping[str, str] | None = None,
                idempotent: bool | None = None, credentials: bool = True) -> httpx.Response:
        """One request, with the retries of the policy; an error answer raises its APIError.
        `credentials=False` sends it without the key or token, and follows redirects (a blob's
        URL, publicly readable, may redirect to the object store: it never gets our key)."""
        idem = method in calls.IDEMPOTENT if idempotent is None else idempotent
        attempt = 0
        while True:
            attempt += 1
            try:
                request = self._http.build_request(method, url, params=params, json=json,
                                                   content=content,
                                                   headers={**self._headers, **(headers or {})},
                                                   files=files, data=data)
                if not credentials:
                    for name in ("x-api-key", "authorization"):
                        request.headers.pop(name, None)
                r = await self._http.send(request, follow_redirects=not credentials)
            except httpx.TransportError as exc:
                delay = self.retry.delay(attempt, None) if idem else None
                if delay is None:
                    raise ConnectionFailed(f"{method} {self.base_url}: {exc!r}") from exc
                self.retries += 1
                await self._sleep(delay)
                continue
            if r.is_success:
                return r
            if r.status_code in (429, 503):
                delay = self.retry.delay(attempt, r)
                if delay is not None:
                    self.retries += 1
                    await self._sleep(delay)
                    continue
            raise from_response(r)

    async def wait_before_retry(self, exc: Exception, attempt: int) -> None:
        """The wait a resumable upload makes before asking HEAD again."""
        told = getattr(exc, "retry_after", None)
        delay = told if isinstance(exc, APIError) and is_retryable(exc) and told else None
        await self._sleep(delay if delay is not None else (self.retry.delay(attempt, None) or 0))

    async def run(self, call: Call[T]) -> T:
        r = await self.request(call.method, call.path, params=call.params, json=call.json,
                         headers=call.headers or None, idempotent=call.retry_on_connection_error)
        return call.read(r)

    async def get_organization_id(self) -> str:
        """The caller's organization (asked once from /api/me unless given)."""
        if self._organization_id is None:
            self._organization_id = (await self.me()).organization_id
        return self._organization_id

    # --- identity, organizations ------------------------------------------------------------

    async def health(self) -> m.Health:
        return await self.run(calls.health())

    async def me(self) -> m.Me:
        return await self.run(calls.me())

    async def list_organizations(self) -> list[m.Organization]:
        return await self.run(calls.list_organizations())

    async def set_active_organization(self, organization_id: str) -> m.Organization:
        org = await self.run(calls.set_active_organization(organization_id))
        self._organization_id = org.id
        return org

    async def list_members(self) -> m.Members:
        return await self.run(calls.list_members())

    async def update_member_role(self, member_id: str, role: str) -> m.Member:
        return await self.run(calls.update_member_role(member_id, role))

    async def remove_member(self, member_id_or_email: str) -> m.RemovedMember:
        return await self.run(calls.remove_member(member_id_or_email))

    async def invite_member(self, email: str, role: str = "member", *,
                      organization_id: str | None = None,
                      resend: bool | None = None) -> m.Invitation:
        return await self.run(calls.invite_member(email, role, organization_id, resend))

    async def list_invitations(self, organization_id: str | None = None) -> list[m.Invitation]:
        return await self.run(calls.list_invitations(organization_id))

    async def cancel_invitation(self, invitation_id: str) -> m.Invitation:
        return await self.run(calls.cancel_invitation(invitation_id))

    async def get_invitation(self, invitation_id: str) -> m.Invitation:
        return await self.run(calls.get_invitation(invitation_id))

    async def list_user_invitations(self) -> list[m.Invitation]:
        return await self.run(calls.list_user_invitations())

    async def accept_invitation(self, invitation_id: str) -> m.InvitationAnswer:
        return await self.run(calls.accept_invitation(invitation_id))

    async def reject_invitation(self, invitation_id: str) -> m.InvitationAnswer:
        return await self.run(calls.reject_invitation(invitation_id))

    # --- auth -------------------------------------------------------------------------------

    async def sign_in(self, email: str, password: str, *,
                remember_me: bool | None = None) -> m.SignedIn:
        """Email and password; the answer's token is a bearer token (Client(token=...))."""
        return await self.run(calls.sign_in(email, password, remember_me))

    async def sign_out(self) -> m.Success:
        return await self.run(calls.sign_out())

    async def get_session(self) -> m.SessionInfo | None:
        return await self.run(calls.get_session())

    async def device_code(self, client_id: str = "coreviz-cli",
                    scope: str | None = None) -> m.DeviceCode:
        return await self.run(calls.device_code(client_id, scope))

    async def device_token(self, device_code: str, client_id: str = "coreviz-cli") -> m.DeviceToken:
        """One poll: raises BadRequest with code authorization_pending/slow_down until approved."""
        return await self.run(calls.device_token(device_code, client_id))

    async def device_login(self, on_code: Callable[[m.DeviceCode], Any], *,
                     client_id: str = "coreviz-cli", scope: str | None = None) -> m.DeviceToken:
        """The whole device flow: ask a code, hand it to `on_code` (show it to the person),
        poll at the server's interval (slower on slow_down) until approved, denied or expired."""
        code = await self.device_code(client_id, scope)
        on_code(code)
        interval = float(code.interval)
        deadline = time.monotonic() + code.expires_in
        while True:
            try:
                return await self.device_token(code.device_code, client_id)
            except BadRequest as exc:
                if exc.code == "slow_down":
                    interval += 5
                elif exc.code != "authorization_pending" or time.monotonic() > deadline:
                    raise
            await self._sleep(interval)

    async def device_verify(self, user_code: str) -> m.DeviceCodeStatus:
        return await self.run(calls.device_verify(user_code))

    async def device_approve(self, user_code: str) -> m.Success:
        return await self.run(calls.device_approve(user_code))

    async def device_deny(self, user_code: str) -> m.Success:
        return await self.run(calls.device_deny(user_code))

    async def create_api_key(self, name: str | None = None, *, expires_in: int | None = None,
                       read_only: bool = False,
                       collections: list[str] | None = None) -> m.ApiKeyCreated:
        return await self.run(calls.create_api_key(name, expires_in, read_only, collections))

    async def list_api_keys(self) -> list[m.ApiKey]:
        return await self.run(calls.list_api_keys())

    async def delete_api_key(self, key_id: str) -> m.Success:
        return await self.run(calls.delete_api_key(key_id))

    # --- collections ------------------------------------------------------------------------

    async def list_collections(self, organization_id: str | None = None) -> list[m.Collection]:
        org = organization_id or await self.get_organization_id()
        return await self.run(calls.list_collections(org))

    async def create_collection(self, name: str, icon: str | None = None, *,
                          organization_id: str | None = None) -> m.Collection:
        org = organization_id or await self.get_organization_id()
        return await self.run(calls.create_collection(org, name, icon))

    async def get_collection(self, collection_id: str) -> m.Collection:
        return await self.run(calls.get_collection(collection_id))

    async def update_collection(self, collection_id: str, name: str | None = None,
                          icon: str | None = calls._UNSET) -> m.Collection:
        return await self.run(calls.update_collection(collection_id, name, icon))

    async def browse_media(self, collection_id: str, **filters: Any) -> m.MediaPage:
        """One page of browse or search; filters as calls.browse_params (limit, offset,
        sort_by, sort_direction, path, recursive, type, date_from, date_to, tags,
        tag_filters, media_id, cluster_id, q, similar_to_object_id, ...)."""
        return await self.run(calls.browse_media(collection_id, calls.browse_params(**filters)))

    async def search_media(self, collection_id: str, q: str, **filters: Any) -> m.MediaPage:
        return await self.browse_media(collection_id, q=q, **filters)

    async def find_similar(self, collection_id: str, object_id: str, model: str | None = None,
                     **filters: Any) -> m.MediaPage:
        return await self.browse_media(collection_id, similar_to_object_id=object_id,
                                 similar_to_object_model=model, **filters)

    def pages(self, collection_id: str, *, page_size: int = paging.DEFAULT_PAGE_SIZE,
              limit: int | None = None, **filters: Any) -> AsyncIterator[m.MediaPage]:
        """Browse page by page, lazily, until the last page."""
        filters.pop("offset", None)
        return paging.apages(lambda size, offset: self.browse_media(
            collection_id, limit=size, offset=offset, **filters), page_size, 0, limit)

    async def iter_media(self, collection_id: str, *,
                         page_size: int = paging.DEFAULT_PAGE_SIZE, limit: int | None = None,
                         **filters: Any) -> AsyncIterator[m.Media]:
        """Every item browse gives, one page fetched at a time as the caller goes."""
        async for page in self.pages(collection_id, page_size=page_size, limit=limit,
                                     **filters):
            for media in page.media:
                yield media

    async def iter_folder(self, folder_id: str, *, recursive: bool = False,
                          page_size: int = paging.DEFAULT_PAGE_SIZE, **filters: Any
                          ) -> AsyncIterator[m.Media]:
        folder = await self.get_folder(folder_id)
        async for media in self.iter_media(folder.collection_id or folder.dataset_id or "",
                                           path=folder.path, recursive=recursive or None,
                                           page_size=page_size, **filters):
            yield media

    async def get_tags(self, collection_id: str) -> dict[str, list[str]]:
        return await self.run(calls.get_tags(collection_id))

    async def list_trash(self, collection_id: str, *, limit: int | None = None,
                   offset: int | None = None) -> m.MediaPage:
        return await self.run(calls.list_trash(collection_id, limit, offset))

    async def list_duplicates(self, collection_id: str, *, limit: int | None = None,
                              offset: int | None = None) -> m.DuplicatesPage:
        """Groups of exact and near duplicates in a collection (docs/duplicates.md)."""
        return await self.run(calls.list_duplicates(collection_id, limit, offset))

    async def reprocess_collection(self, collection_id: str, *,
                             failed_only: bool | None = None) -> m.CollectionRequeued:
        return await self.run(calls.reprocess_collection(collection_id, failed_only))

    async def queue_status(self, collection_id: str | None = None) -> m.QueueStatus:
        """The organization's items by processing state (of one collection, when given)."""
        return await self.run(calls.queue_status(collection_id))

    # --- media ------------------------------------------------------------------------------

    async def get_media(self, media_id: str) -> m.Media:
        return await self.run(calls.get_media(media_id))

    async def update_media(self, media_id: str, *, name: str | None = None,
                     metadata: dict[str, Any] | None = None) -> m.Media:
        return await self.run(calls.update_media(media_id, name, metadata))

    async def rename_item(self, media_id: str, name: str) -> m.Media:
        return await self.update_media(media_id, name=name)

    async def delete_media(self, media_id: str, *, permanent: bool = False) -> m.Deleted:
        """To the trash (restore_media brings it back), or for good with permanent=True."""
        return await self.run(calls.delete_media(media_id, permanent))

    async def restore_media(self, media_id: str) -> m.Restored:
        return await self.run(calls.restore_media(media_id))

    async def move_item(self, media_id: str, destination_path: str) -> m.Moved:
        return await self.run(calls.move_item(media_id, destination_path))

    async def list_versions(self, media_id: str) -> list[m.Media]:
        return await self.run(calls.list_versions(media_id))

    async def delete_version(self, root_id: str, version_id: str) -> m.DeletedVersion:
        return await self.run(calls.delete_version(root_id, version_id))

    async def select_version(self, version_id: str) -> m.Media:
        return await self.run(calls.select_version(version_id))

    async def reprocess_media(self, media_id: str) -> m.MediaRequeued:
        return await self.run(calls.reprocess_media(media_id))

    async def add_tag(self, media_id: str, label: str, value: str) -> m.MediaTags:
        return await self.run(calls.add_tag(media_id, label, value))

    async def remove_tag(self, media_id: str, label: str, value: str) -> m.MediaTags:
        return await self.run(calls.remove_tag(media_id, label, value))

    async def remove_tag_group(self, media_id: str, label: str) -> m.MediaTags:
        return await self.run(calls.remove_tag(media_id, label, None))

    async def rename_tag_group(self, media_id: str, old_label: str, new_label: str) -> m.MediaTags:
        return await self.run(calls.rename_tag_group(media_id, old_label, new_label))

    # --- folders ----------------------------------------------------------------------------

    async def create_folder(self, collection_id: str, name: str, path: str | None = None, *,
                      reuse: bool = False) -> m.Folder:
        return await self.run(calls.create_folder(collection_id, name, path, reuse))

    async def get_folder(self, folder_id: str) -> m.Folder:
        return await self.run(calls.get_folder(folder_id))

    async def update_folder(self, folder_id: str, *, name: str | None = None,
                      metadata: dict[str, Any] | None = None) -> m.Folder:
        return await self.run(calls.update_folder(folder_id, name, metadata))

    async def delete_folder(self, folder_id: str) -> m.Deleted:
        return await self.run(calls.delete_folder(folder_id))

    # --- AI, search, clusters ---------------------------------------------------------------

    async def describe(self, image: str, prompt: str | None = None) -> m.Description:
        return await self.run(calls.describe(image, prompt))

    async def tag(self, image: str, prompt: str, *, options: list[str] | None = None,
            multiple: bool | None = None) -> m.Tagging:
        return await self.run(calls.tag(image, prompt, options, multiple))

    async def embed(self, *, image: str | None = None, text: str | None = None) -> m.Embedding:
        return await self.run(calls.embed(image, text))

    async def edit(self, prompt: str, image: str | list[str] | None = None, *,
                   media_id: str | None = None, aspect_ratio: str | None = None,
                   output_format: str | None = None) -> m.Generated:
        """`result`: the picture as a data URL; with `media_id`, kept as that item's new
        active version (`media_id` of the answer)."""
        return await self.run(calls.edit(prompt, image, media_id=media_id,
                                         aspect_ratio=aspect_ratio,
                                         output_format=output_format))

    async def generate(self, prompt: str, image: str | list[str] | None = None, *,
                       dataset_id: str | None = None, path: str | None = None,
                       name: str | None = None, aspect_ratio: str | None = None,
                       output_format: str | None = None) -> m.Generated:
        """`result`: the picture as a data URL; with `dataset_id`, kept as a new item."""
        return await self.run(calls.generate(prompt, image, dataset_id=dataset_id, path=path,
                                             name=name, aspect_ratio=aspect_ratio,
                                             output_format=output_format))

    async def search(self, q: str, *, organization_id: str | None = None,
               limit: int | None = None) -> list[m.SearchHit]:
        """Organization-wide search, best first."""
        return await self.run(calls.search(q, organization_id, limit))

    async def list_clusters(self, *, kind: str | None = None, collection_id: str | None = None,
                      limit: int | None = None, offset: int | None = None) -> m.ClusterPage:
        return await self.run(calls.list_clusters(kind, collection_id, limit, offset))

    async def get_cluster(self, cluster_id: str) -> m.Cluster:
        return await self.run(calls.get_cluster(cluster_id))

    async def name_cluster(self, cluster_id: str, name: str | None) -> m.Cluster:
        return await self.run(calls.name_cluster(cluster_id, name))

    async def cluster_media(self, cluster_id: str, *, limit: int | None = None,
                      offset: int | None = None) -> m.MediaPage:
        return await self.run(calls.cluster_media(cluster_id, limit, offset))

    async def read_blob(self, url: str) -> bytes:
        """The bytes of a media's or frame's `blob` (or thumbnail) URL."""
        r = await self.request("GET", url, credentials=False)
        return r.content

    async def download_blob(self, url: str, out: BinaryIO, *, offset: int = 0,
                      on_progress: Progress | None = None,
                      chunk_size: int = 1 << 20) -> int:
        """Stream a blob into `out` (never the whole file in memory); the file's size at the
        end. With `offset` > 0 only the rest is asked (Range); a server that answers the whole
        blob instead has `out` rewritten from its start. `on_progress(done, total)` per chunk."""
        headers = {**self._headers, **({"Range": f"bytes={offset}-"} if offset else {})}
        for name in ("x-api-key", "authorization"):  # public URLs: our key never leaves
            headers.pop(name, None)
        headers.pop("Accept", None)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._http.stream("GET", url, headers=headers,
                                       follow_redirects=True) as r:
                    if r.status_code == 416 and offset:  # nothing left to send
                        return offset
                    if not r.is_success:
                        await r.aread()
                        raise from_response(r)
                    if r.status_code != 206:
                        out.seek(0)
                        out.truncate()
                        offset = 0
                    total = offset + int(r.headers.get("content-length") or 0)
                    done = offset
                    async for chunk in r.aiter_bytes(chunk_size):
                        out.write(chunk)
                        done += len(chunk)
                        if on_progress is not None:
                            on_progress(done, total)
                    return done
            except httpx.TransportError as exc:
                delay = self.retry.delay(attempt, None)
                if delay is None:
                    raise ConnectionFailed(f"GET {url}: {exc!r}") from exc
                self.retries += 1
                await self._sleep(delay)
                offset = out.tell()  # what arrived stays: ask only for the rest
                if offset:
                    headers["Range"] = f"bytes={offset}-"

    async def blob_info(self, url: str) -> m.BlobInfo:
        """Size and type of a blob, without its bytes (HEAD)."""
        return calls.blob_info(url).read(await self.request("HEAD", url, credentials=False))

    # --- uploads ----------------------------------------------------------------------------

    async def upload_multipart(self, source: Source, collection_id: str, *, path: str | None = None,
                         name: str | None = None,
                         version_of: str | None = None) -> m.UploadResult:
        """One POST of the whole file (not resumable; the fastest for small files)."""
        f, owned, filename = open_source(source)
        try:
            r = await self.request("POST", "/api/upload/multipart",
                             data=multipart_fields(collection_id, path, name, version_of),
                             files={"file": (filename or name or "upload", f,
                                             "application/octet-stream")},
                             idempotent=False)
        finally:
            if owned:
                f.close()
        return m.UploadResult.model_validate(r.json())

    async def tus_options(self) -> m.TusOptions:
        return options_of(await self.request("OPTIONS", TUS_PATH, headers=TUS))

    async def upload_status(self, upload_url: str) -> m.TusStatus:
        return status_of(await self.request("HEAD", upload_url, headers=TUS))

    async def get_upload_result(self, upload_url: str) -> m.UploadResult:
        return await self.run(calls.get_upload_result(upload_url))

    async def cancel_upload(self, upload_url: str) -> None:
        await self.request("DELETE", upload_url, headers=TUS)

    def start_upload(self, source: Source, collection_id: str | None = None, *,
                     path: str | None = None, name: str | None = None,
                     version_of: str | None = None, chunk_size: int = 8 * 1024 * 1024,
                     on_progress: Progress | None = None,
                     resume_url: str | None = None) -> AsyncUpload:
        """A tus upload to drive step by step (`await .create()`, `.url`, `await .send()`)."""
        return AsyncUpload(self, source, collection_id, path=path, name=name,
                           version_of=version_of, chunk_size=chunk_size,
                           on_progress=on_progress, url=resume_url)

    async def upload(self, source: Source, collection_id: str | None = None, *,
               path: str | None = None, name: str | None = None,
               version_of: str | None = None, on_progress: Progress | None = None,
               chunk_size: int = 8 * 1024 * 1024, resume_url: str | None = None,
               on_created: Callable[[str], Any] | None = None,
               multipart_below: int = MULTIPART_BELOW) -> m.UploadResult:
        """Upload a file (a path, a seekable binary file or bytes). Files under
        `multipart_below` bytes go in one multipart POST; the others through tus, in chunks
        with a sha256 checksum each, resuming from the server's offset after an error.
        `on_created(url)` gets the upload's URL as soon as it exists: persist it, and pass it
        as `resume_url` to go on after a crash (only the missing bytes are sent)."""
        up = self.start_upload(source, collection_id, path=path, name=name,
                               version_of=version_of, chunk_size=chunk_size,
                               on_progress=on_progress, resume_url=resume_url)
        try:
            if resume_url is None and up.length < multipart_below and collection_id:
                up.file.seek(0)
                result = await self.upload_multipart(up.file, collection_id, path=path, name=name,
                                               version_of=version_of)
                if on_progress is not None:
                    on_progress(up.length, up.length)
                return result
            if up.url is None:
                await up.create()
                created = on_created(up.url or "") if on_created is not None else None
                if asyncio.iscoroutine(created):
                    await created
            done = await up.send()
            assert done is not None
            return done
        finally:
            up.close()
