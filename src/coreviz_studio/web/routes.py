"""The Studio's pages. They only render: every change a page makes goes through the JSON API
from its script (static/js), so the API's rules (roles, CSRF, rate limits) are the only ones.
A page that needs a signed-in person sends anyone else to the sign-in page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from coreviz_studio.accounts import invitations
from coreviz_studio.deps import Db, Public, Urls
from coreviz_studio.errors import AppError
from coreviz_studio.media.browse import MAX_OFFSET
from coreviz_studio.web import collections, library, mediaview, people, search
from coreviz_studio.web import settings as settings_view
from coreviz_studio.web.templating import local_path, render, to_sign_in
from coreviz_studio.web.visitor import OptionalVisitor

# Public as far as the API's walls go: each page decides, from the visitor, what to show.
pages = APIRouter(include_in_schema=False, dependencies=[Public])
Page = Response  # a rendered page or a redirect


@pages.get("/")
def home(request: Request, db: Db, visitor: OptionalVisitor, urls: Urls) -> Page:
    """The Studio's home: the organization's collections."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:  # signed in, in no organization: their invitations
        received = invitations.list_for_invitee(db, visitor.person)
        return render(request, "no_organization.html", visitor=visitor, invitations=received)
    return render(request, "collections.html", visitor=visitor,
                  cards=collections.cards(db, visitor.principal, urls))


@pages.get("/sign-in")
def sign_in(request: Request, visitor: OptionalVisitor, next: str | None = None) -> Page:
    target = local_path(next)
    if visitor is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "sign_in.html", visitor=None, next=target)


@pages.get("/accept-invitation/{invitation_id}")
def invitation(invitation_id: str, request: Request, db: Db, visitor: OptionalVisitor) -> Page:
    """The page an invitation link opens: who invites, to what, and accept or decline."""
    if visitor is None:
        return to_sign_in(request)
    try:
        received = invitations.get_for_invitee(db, visitor.person, invitation_id)
    except AppError as exc:  # not theirs, not an id: the same answer (nothing leaks)
        return render(request, "invitation.html", status=404 if exc.status < 500 else exc.status,
                      visitor=visitor, received=None)
    expired = received.invitation.expires_at <= datetime.now(UTC)
    return render(request, "invitation.html", visitor=visitor, received=received,
                  expired=expired)


@pages.get("/device")
def device(request: Request, visitor: OptionalVisitor, user_code: str = "") -> Page:
    """Where a person approves a device login (RFC 8628's verification URI); it signs in on
    the page itself, so the code typed on the device stays in the form."""
    return render(request, "device.html", visitor=visitor, user_code=user_code[:32])


@pages.get("/settings")
def settings_page(request: Request, db: Db, visitor: OptionalVisitor) -> Page:
    """API keys, members and roles, invitations (web/settings.py)."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    return render(request, "settings.html", visitor=visitor,
                  view=settings_view.view(db, visitor.principal), when=settings_view.when)


def _offset(raw: str | None) -> int:
    """A page's `offset` as given in its links; anything else is the first page."""
    try:
        return min(max(int(raw or 0), 0), MAX_OFFSET)
    except ValueError:
        return 0


@pages.get("/people")
@pages.get("/things")
def people_page(request: Request, db: Db, visitor: OptionalVisitor, urls: Urls,
                offset: str | None = None) -> Page:
    """Face clusters as people (/people), object clusters as things (/things)."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    kind = "object" if request.url.path == "/things" else "face"
    start = _offset(offset)
    found, total = people.cards(db, visitor.principal, urls, kind, start)
    return render(request, "people.html", visitor=visitor, kind=kind, cards=found, total=total,
                  offset=start, page=people.PAGE)


@pages.get("/people/{cluster_id}")
@pages.get("/things/{cluster_id}")
def cluster_page(cluster_id: str, request: Request, db: Db, visitor: OptionalVisitor,
                 urls: Urls, offset: str | None = None) -> Page:
    """One person's (or thing's) items, in every collection, newest first."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    start = _offset(offset)
    try:
        shown = people.card(db, visitor.principal, urls, cluster_id)
        found, total, where = people.items(db, visitor.principal, urls, cluster_id, start)
    except AppError as exc:  # not an id, another organization's: not found, nothing leaks
        return render(request, "cluster.html", status=404 if exc.status < 500 else exc.status,
                      visitor=visitor, cluster=None)
    return render(request, "cluster.html", visitor=visitor, cluster=shown, items=found,
                  total=total, collections=where, offset=start, page=people.PAGE)


@pages.get("/m/{media_id}")
def media_view(media_id: str, request: Request, db: Db, visitor: OptionalVisitor) -> Page:
    """One item: the original, its frames and what processing found, versions, tags, and
    rename, move, delete (static/js/media.js does all of it through the API)."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    try:
        found = mediaview.header(db, visitor.principal, media_id)
    except AppError as exc:  # another organization's, deleted, not an id: all "not found"
        return render(request, "media.html", status=404 if exc.status < 500 else exc.status,
                      visitor=visitor, item=None)
    if found.type == "folder":  # a folder is browsed in the library view
        return RedirectResponse(found.folder_url, status_code=303)
    return render(request, "media.html", visitor=visitor, item=found)


def _library(request: Request, template: str, visitor: OptionalVisitor, find, **extra) -> Page:  # type: ignore[no-untyped-def]
    """A page of one collection (its library, its trash): a person of its organization only;
    a collection or folder they cannot see is the same "not found" as one that never was."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    try:
        place = find(visitor.principal)
    except AppError as exc:
        problem = "".join(c for c in exc.message if ord(c) >= 32)  # it may quote the input
        return render(request, template, status=exc.status if exc.status < 500 else 500,
                      visitor=visitor, place=None, problem=problem)
    return render(request, template, visitor=visitor, place=place, **extra)


@pages.get("/c/{dataset_id}")
def library_view(dataset_id: str, request: Request, db: Db, visitor: OptionalVisitor,
                 path: str | None = None) -> Page:
    """A collection's library: the folder at `path` (the top level by default) as a grid, with
    the sort and filters of the URL (sort, dir, type, from, to, tags)."""
    return _library(request, "library.html", visitor,
                    lambda principal: library.place(db, principal, dataset_id, path),
                    view=library.view(request.query_params), sorts=library.SORTS,
                    types=library.TYPES, first_page_size=library.FIRST_PAGE)


@pages.get("/c/{dataset_id}/trash")
def trash_view(dataset_id: str, request: Request, db: Db, visitor: OptionalVisitor) -> Page:
    """A collection's trash: restore, or (admins) delete for good."""
    return _library(request, "trash.html", visitor,
                    lambda principal: library.trash_place(db, principal, dataset_id))


@pages.get("/search")
def search_page(request: Request, db: Db, visitor: OptionalVisitor, q: str = "",
                dataset: str = "", similar: str = "", model: str = "", label: str = "") -> Page:
    """Search results (the page's script asks the API): hybrid `q` in every collection or in
    `dataset`, or `similar` (an object's id) for items that look like it."""
    if visitor is None:
        return to_sign_in(request)
    if visitor.principal is None:
        return RedirectResponse("/", status_code=303)
    scope = search.chosen(db, visitor.principal, dataset) if dataset else None
    return render(request, "search.html", status=404 if dataset and scope is None else 200,
                  visitor=visitor, q=q[:1000], scope=scope, missing=bool(dataset and not scope),
                  scopes=search.scopes(db, visitor.principal), similar=similar[:64],
                  model=model if model in search.MODELS else "", label=label[:100])
