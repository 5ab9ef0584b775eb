"""When, with what and where a photo was taken, from its EXIF (as uploads/probe.py stores it).

`facts` is kept in the media's `metadata.taken` and its words go into the search document, so
"in 2019", "taken with a Canon" and "photos from Paris" find it.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from coreviz_studio.config import get_settings
from coreviz_studio.understanding import places

_DATE = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})")
_MAKER_NOISE = re.compile(r"\b(corporation|corp\.?|co\.?,? ?ltd\.?|inc\.?|company|imaging)\b",
                          re.IGNORECASE)


def facts(exif: dict[str, Any] | None) -> dict[str, str]:
    """{"date": "2019-06-14", "year": "2019", "month": "June", "camera": "Canon EOS 5D",
    "place": "Paris 16 Passy, Paris, France"}: what the EXIF says, nothing made up."""
    tags = (exif or {}).get("tags") or {}
    if not isinstance(tags, dict):
        return {}
    out: dict[str, str] = {}
    for key in ("DateTimeOriginal", "DateTimeDigitized", "DateTime"):
        match = _DATE.match(str(tags.get(key) or ""))
        if match and 1 <= int(match[2]) <= 12 and int(match[1]) > 1900:
            out.update(date=f"{match[1]}-{match[2]}-{match[3]}", year=match[1],
                       month=calendar.month_name[int(match[2])])
            break
    camera = _camera(tags.get("Make"), tags.get("Model"))
    if camera:
        out["camera"] = camera
    position = gps(tags)
    if position is not None:
        place = places.nearest(*position)
        if place is not None:
            out["place"] = place.name()
    return out


def with_taken(metadata: dict[str, Any], exif: dict[str, Any] | None) -> dict[str, Any]:
    """`metadata` with `taken` set from the EXIF (or removed when there is nothing, or when
    COREVIZ_UNDERSTANDING_WORDS is off)."""
    found = facts(exif) if get_settings().understanding_words else {}
    rest = {k: v for k, v in metadata.items() if k != "taken"}
    return {**rest, "taken": found} if found else rest


def sentence(taken: dict[str, str]) -> str:
    """"Taken in June 2019 with a Canon EOS 5D near Paris, France." (empty if nothing known)."""
    parts = []
    if taken.get("year"):
        parts.append(f"in {taken.get('month', '')} {taken['year']}".replace("  ", " "))
    if taken.get("camera"):
        parts.append(f"with a {taken['camera']}")
    if taken.get("place"):
        parts.append(f"near {taken['place']}")
    return f"Taken {' '.join(parts)}." if parts else ""


def _camera(make: Any, model: Any) -> str | None:
    make = " ".join(_MAKER_NOISE.sub("", str(make or "")).split())
    model = " ".join(str(model or "").split())
    if model and make and not model.lower().startswith(make.lower()):
        return f"{make} {model}"
    return model or make or None


def gps(tags: dict[str, Any]) -> tuple[float, float] | None:
    """(latitude, longitude) in degrees from the GPS tags, or None if absent or malformed."""
    lat = _degrees(tags.get("GPSLatitude"), tags.get("GPSLatitudeRef"), "S")
    lon = _degrees(tags.get("GPSLongitude"), tags.get("GPSLongitudeRef"), "W")
    return None if lat is None or lon is None else (lat, lon)


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        if isinstance(value, list | tuple):
            d, m, s = ([*list(value), 0, 0, 0])[:3]
            degrees = float(d) + float(m) / 60 + float(s) / 3600
        else:
            degrees = float(value)
    except (TypeError, ValueError):
        return None
    return -degrees if str(ref or "").strip().upper() == negative else degrees
