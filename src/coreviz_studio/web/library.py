"""What the library page of a collection renders around its grid: where we are (breadcrumbs),
the folder tree down to here, and the sort and filters the URL asks for. The grid itself is
filled by static/js/library.js from the browse API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media
from coreviz_studio.media import paths, tree
from coreviz_studio.tenancy import scoped

# The sorts browse supports, as the page names them; the first is the default.
SORTS = {"createdAt": "Date added", "updatedAt": "Date changed", "name": "Name",
         "sizeBytes": "Size", "type": "Type"}
TYPES = {"all": "All types", "image": "Images", "video": "Videos", "pdf": "PDFs",
         "folder": "Folders"}
FOLDERS_PER_LEVEL = 500  # the tree shows this many sub-folders of each open folder
FIRST_PAGE = 120  # static/js/library.js's PAGE: the first page is preloaded


@dataclass(frozen=True)
class Crumb:
    name: str
    path: str


@dataclass(frozen=True)
class Node:
    """A folder in the tree: its depth, and whether it is here or on the way here."""

    name: str
    path: str
    depth: int
    current: bool
    open: bool


@dataclass(frozen=True)
class Place:
    dataset_id: str
    name: str
    root: str
    path: str  # the folder shown (the root's path for the collection's top level)
    crumbs: list[Crumb]  # from the top level down to here, both included
    tree: list[Node]  # depth first, only the folders on the way here are open


@dataclass(frozen=True)
class View:
    """The sort and filters of the URL, as given (the browse API checks them and says what is
    wrong with a bad one; the page shows its message)."""

    sort: str = "createdAt"
    direction: str = "desc"
    type: str = "all"
    date_from: str = ""
    date_to: str = ""
    tags: str = ""
    cluster: str = ""  # one person's or thing's items (the people pages link here with it)

    @property
    def filtered(self) -> bool:
        return bool(self.type != "all" or self.date_from or self.date_to or self.tags
                    or self.cluster)

    def browse_query(self, place: Place) -> str:
        """The browse API's query for this view (static/js/library.js adds limit and offset);
        the page also preloads its first page with it, so the two must be the same URL."""
        query = {"sortBy": self.sort, "sortDirection": self.direction}
        if place.path != place.root:
            query["path"] = place.path
        if self.type and self.type != "all":
            query["type"] = self.type
        if self.date_from:
            query["dateFrom"] = self.date_from
        if self.date_to:
            query["dateTo"] = self.date_to
        tags = ",".join(t.strip() for t in self.tags.split(",") if t.strip())
        if tags:
            query["tags"] = tags
        if self.cluster:
            query["clusterId"] = self.cluster
        return urlencode(query)


def view(query: Mapping[str, str]) -> View:
    def get(name: str, default: str = "") -> str:  # no control characters, a sane length
        value = "".join(c for c in (query.get(name) or default) if ord(c) >= 32)
        return value.strip()[:500] or default
    return View(sort=get("sort", "createdAt"), direction=get("dir", "desc"),
                type=get("type", "all"), date_from=get("from"), date_to=get("to"),
                tags=get("tags"), cluster=get("cluster"))


def place(session: Session, principal: Principal, dataset_id: str, path: str | None) -> Place:
    """The collection and the folder at `path` (its top level when None): 404 for a collection
    or folder the caller cannot see, 400 for a malformed path."""
    dataset = get_dataset(session, principal, dataset_id)
    here = tree.container(session, principal, dataset, path)
    root = paths.root(dataset.id)
    labels = here.split(".")
    levels = [".".join(labels[:n]) for n in range(1, len(labels) + 1)]  # root ... here
    folders = scoped(Media, principal).where(Media.dataset_id == dataset.id,
                                             Media.type == "folder", Media.status == "active")
    names = {row.path: row.name for row in session.scalars(
        folders.where(Media.path.in_(levels[1:])))} if len(levels) > 1 else {}
    crumbs = [Crumb(dataset.name, root)] + [Crumb(names.get(p, "?"), p) for p in levels[1:]]
    children: dict[str, list[Media]] = defaultdict(list)
    for level in levels:
        children[level] = list(session.scalars(
            folders.where(tree.parent_path() == level)
            .order_by(Media.name_key, Media.id).limit(FOLDERS_PER_LEVEL)))
    nodes: list[Node] = []

    def walk(parent: str, depth: int) -> None:
        for row in children.get(parent, []):
            on_the_way = row.path in levels
            nodes.append(Node(row.name, row.path, depth, row.path == here, on_the_way))
            if on_the_way:
                walk(row.path, depth + 1)
    walk(root, 0)
    return Place(str(dataset.id), dataset.name, root, here, crumbs, nodes)


def trash_place(session: Session, principal: Principal, dataset_id: str) -> Place:
    """The collection, for its trash page (404 when the caller cannot see it)."""
    dataset = get_dataset(session, principal, dataset_id)
    root = paths.root(dataset.id)
    return Place(str(dataset.id), dataset.name, root, root, [Crumb(dataset.name, root)], [])
