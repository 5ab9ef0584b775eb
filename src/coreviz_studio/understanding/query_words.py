"""Query words that say what kind of file is wanted rather than what is in it.

"photos from Paris": every composed caption opens with "A photo", so "photos" would match
every item and crowd the one from Paris. These words are left out of the full-text query
(the vector part still reads the whole query). Near misses (trigrams) also leave out words of
one or two letters ("a cow" is 0.67 similar to "a coffee" by "a" and "co" alone) and numbers.
"""

from __future__ import annotations

MEDIUM = frozenset({"photo", "photos", "picture", "pictures", "pic", "pics", "image", "images",
                    "shot", "shots", "taken", "show", "me", "find"})


def content(words: list[str]) -> list[str]:
    """`words` less the medium words; all of them if nothing else is left ("photo" alone)."""
    kept = [w for w in words if w not in MEDIUM]
    return kept or words


def for_trigrams(q: str) -> str:
    """The query as trigram similarity reads it: content words of three letters or more,
    numbers left out ("2016" is not a typo of "2019"); empty when nothing is left (then no
    near misses are looked for)."""
    words = q.split()
    return " ".join(w for w in words if len(w) > 2 and w.lower() not in MEDIUM
                    and not w.isdigit())
