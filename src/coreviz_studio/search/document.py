"""The text document of a media that text search reads (`media.search_text`).

It gathers, in one place, everything a person may type to find an item: its name (with
separators as spaces, so "beach_day-2.jpg" matches "beach"), its tag labels and values, its
frames' captions and text (read from the picture or a PDF's text layer), the labels of the
objects and of the frames, the names given to the clusters its faces and objects are in, and
the words understanding/ adds (frames' `metadata.words`, the media's `metadata.taken`).
It is rebuilt by `refresh` whenever one of those changes (processing, rename, tags, a cluster's
name); a trigger would hide that from the code that changes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from coreviz_studio.search import near_words

MAX_CHARS = 100_000  # a 200-page PDF's text is searchable; a 10 MB one is cut here

_REFRESH = text("""
UPDATE media m SET search_text = left(concat_ws(' ',
    regexp_replace(m.name, '[._\\-]+', ' ', 'g'),
    (SELECT string_agg(t.key || ' ' || coalesce(v.value, ''), ' ')
       FROM jsonb_each(CASE WHEN jsonb_typeof(m.metadata -> 'tags') = 'object'
                            THEN m.metadata -> 'tags' ELSE '{}'::jsonb END) t
       LEFT JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(t.value) = 'array' THEN t.value ELSE '[]'::jsonb END
       ) v(value) ON true),
    (SELECT string_agg(c.text, ' ') FROM captions c JOIN frames f ON f.id = c.frame_id
      WHERE f.media_id = m.id),
    (SELECT string_agg(DISTINCT o.label, ' ') FROM objects o
      WHERE o.media_id = m.id AND o.type <> 'text'),
    (SELECT string_agg(DISTINCT l ->> 'name', ' ') FROM frames f,
            jsonb_array_elements(CASE WHEN jsonb_typeof(f.metadata -> 'labels') = 'array'
                                      THEN f.metadata -> 'labels' ELSE '[]'::jsonb END) l
      WHERE f.media_id = m.id),
    (SELECT string_agg(DISTINCT k.name, ' ') FROM objects o JOIN clusters k
         ON k.id = o.cluster_id WHERE o.media_id = m.id AND k.name IS NOT NULL),
    (SELECT string_agg(f.text, ' ' ORDER BY f.frame_index) FROM frames f
      WHERE f.media_id = m.id AND f.text IS NOT NULL),
    -- understanding/: broader label words, people, colours (frames) and EXIF (media)
    (SELECT string_agg(DISTINCT w, ' ') FROM frames f,
            jsonb_array_elements_text(CASE WHEN jsonb_typeof(f.metadata -> 'words') = 'array'
                                           THEN f.metadata -> 'words' ELSE '[]'::jsonb END) w
      WHERE f.media_id = m.id),
    (SELECT string_agg(t.value, ' ') FROM jsonb_each_text(
            CASE WHEN jsonb_typeof(m.metadata -> 'taken') = 'object'
                 THEN m.metadata -> 'taken' ELSE '{}'::jsonb END) t)
), :max_chars)
WHERE m.id = ANY(:ids)
""")


def refresh(session: Session, media_ids: Iterable[uuid.UUID]) -> None:
    """Rebuild the search document of these media (in the caller's transaction)."""
    ids = list(dict.fromkeys(media_ids))
    if ids:
        session.flush()  # the rows it reads may be pending in this session
        session.execute(_REFRESH, {"ids": ids, "max_chars": MAX_CHARS})
        near_words.add(session, ids)  # the dictionary typos are corrected against
