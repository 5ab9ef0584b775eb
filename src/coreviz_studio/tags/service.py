"""Tag groups on media items, and their aggregation over a collection."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media, sql
from coreviz_studio.errors import Invalid, NotFound
from coreviz_studio.ids import IdRef
from coreviz_studio.media.service import get_row
from coreviz_studio.search import document
from coreviz_studio.tags.rules import MAX_GROUPS, MAX_VALUES, check_label, check_value
from coreviz_studio.tags.schemas import CollectionTags, MediaTags


def _tags_of(row: Media) -> dict[str, list[str]]:
    tags = row.metadata_.get("tags")
    return {k: list(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def _save(session: Session, row: Media, principal: Principal,
          tags: dict[str, list[str]]) -> MediaTags:
    row.metadata_ = {**row.metadata_, "tags": tags}
    row.updated_by_id = principal.user_id
    document.refresh(session, [row.id])  # tag values are searchable
    return MediaTags(media_id=row.id, tags=tags)


def _editable(session: Session, principal: Principal, media_id: IdRef) -> Media:
    return get_row(session, principal, media_id, lock=True)  # row lock: no lost concurrent edit


def add_tag(session: Session, principal: Principal, media_id: IdRef, label: str,
            value: str) -> MediaTags:
    """Add `value` to group `label` (created if new); adding a value twice keeps one."""
    label, value = check_label(label), check_value(value)
    row = _editable(session, principal, media_id)
    tags = _tags_of(row)
    values = tags.setdefault(label, [])
    if len(tags) > MAX_GROUPS:
        raise Invalid(f"At most {MAX_GROUPS} tag groups per item")
    if value not in values:
        if len(values) >= MAX_VALUES:
            raise Invalid(f"At most {MAX_VALUES} values per tag group")
        values.append(value)
    return _save(session, row, principal, tags)


def remove_tag(session: Session, principal: Principal, media_id: IdRef, label: str,
               value: str | None) -> MediaTags:
    """Remove one value (the group goes when it empties), or the whole group without a value.
    Removing what is not there changes nothing."""
    label = check_label(label)
    row = _editable(session, principal, media_id)
    tags = _tags_of(row)
    if value is None:
        tags.pop(label, None)
    elif label in tags:
        tags[label] = [v for v in tags[label] if v != value.strip()]
        if not tags[label]:
            del tags[label]
    return _save(session, row, principal, tags)


def rename_group(session: Session, principal: Principal, media_id: IdRef, old: str,
                 new: str) -> MediaTags:
    """Rename a group keeping its values; onto an existing group, the values merge."""
    old, new = check_label(old), check_label(new)
    row = _editable(session, principal, media_id)
    tags = _tags_of(row)
    if old not in tags:
        raise NotFound(f"Tag group '{old}' not found on this item")
    if old != new:
        moved = tags.pop(old)
        merged = tags.get(new, [])
        tags[new] = merged + [v for v in moved if v not in merged]
    return _save(session, row, principal, tags)


def collection_tags(session: Session, principal: Principal, dataset_id: IdRef) -> CollectionTags:
    """Every tag group used in the collection with its distinct values, sorted."""
    dataset = get_dataset(session, principal, dataset_id)
    rows = session.execute(sql(
        "SELECT DISTINCT g.key AS label, v.value AS value"
        " FROM media m, jsonb_each(CASE WHEN jsonb_typeof(m.metadata->'tags') = 'object'"
        "   THEN m.metadata->'tags' ELSE '{}'::jsonb END) AS g,"
        " jsonb_array_elements_text(CASE WHEN jsonb_typeof(g.value) = 'array'"
        "   THEN g.value ELSE '[]'::jsonb END) AS v"
        " WHERE m.organization_id = :org AND m.dataset_id = :dataset AND m.status = 'active'"
        " AND m.is_active_version AND m.metadata ? 'tags'"
        " ORDER BY 1, 2"),
        {"org": principal.organization_id, "dataset": dataset.id})
    out: dict[str, list[str]] = defaultdict(list)
    for label, value in rows:
        out[label].append(value)
    return CollectionTags(tags=dict(out))
