"""Write `imagenet_hypernyms.tsv`: for each ImageNet label, the broader words WordNet gives it.

ImageNet's 1,000 classes are WordNet 3.0 noun synsets (their ids, `n01530575`, are the synset's
offset in WordNet's `data.noun`). This script walks each class's hypernyms (and instance
hypernyms) to the root and keeps their first lemma, nearest first, leaving out the abstract
ones nobody types ("entity", "whole", "artifact", ...). It also marks which of them are common
enough for a caption: the nearest one, and the first everyday category word on the way up
("finch" and "bird" for a brambling; "eating apple" and "fruit" for a Granny Smith).

Run once when the data changes (it is committed; nothing reads WordNet at run time):
    apt-get install wordnet-base        # WordNet 3.0, /usr/share/wordnet
    pip download --no-deps timm         # ships timm/data/_info/imagenet_synsets.txt
    python -m coreviz_studio.understanding.build_hypernyms \
        --wordnet /usr/share/wordnet --synsets imagenet_synsets.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = HERE.parent / "ai" / "imagenet_labels.txt"
OUT = HERE / "imagenet_hypernyms.tsv"

# Too abstract to help anyone find a photo, or misleading on their own.
ABSTRACT = {
    "entity", "physical entity", "object", "whole", "artifact", "living thing", "organism",
    "abstraction", "matter", "substance", "thing", "part", "unit", "group", "causal agent",
    "instrumentality", "device", "structure", "container", "covering", "commodity",
    "psychological feature", "attribute", "relation", "measure", "communication",
    "physical object", "natural object", "solid", "material", "implement", "conveyance",
    "surface", "artefact", "creation", "product", "system", "means", "equipment",
    "protective covering", "geological formation", "formation", "chordate", "vertebrate",
    "craniate", "placental", "eutherian mammal", "placental mammal", "organ", "body part",
    "plant part", "plant organ", "reproductive structure", "vascular plant", "woody plant",
    "herb", "herbaceous plant", "seed plant", "spermatophyte", "phanerogam", "angiosperm",
    "flowering plant", "arthropod", "invertebrate", "diapsid", "diapsid reptile", "anapsid",
    "oscine", "oscine bird", "passerine", "passeriform bird", "elasmobranch", "selachian",
    "cartilaginous fish", "teleost", "teleost fish", "bony fish", "food fish", "aquatic vertebrate",
    "mollusk", "gastropod", "decapod crustacean", "even-toed ungulate", "odd-toed ungulate",
    "ungulate", "hoofed mammal", "carnivore", "canine", "canid", "feline", "felid", "primate",
    "anthropoid ape", "ape", "rodent", "gnawer", "lagomorph", "marsupial", "metatherian",
    "monotreme", "prototherian", "pachyderm", "proboscidean", "proboscidian", "ruminant",
    "bovid", "cervid", "sheep dog", "working dog", "hunting dog", "hound", "toy dog",
    "terrier", "spaniel", "sporting dog", "gun dog", "retriever", "setter", "pointer",
    "shepherd dog", "sheepdog", "watchdog", "guard dog", "sled dog", "sledge dog", "corgi",
    "foodstuff", "food product", "solid food", "nutriment", "nourishment", "sustenance",
    "course", "dish", "edible fruit", "produce", "green goods", "vegetable", "fluid", "liquid",
    "consumer goods", "durables", "durable goods", "merchandise", "ware", "article",
    "establishment", "place of business", "mercantile establishment", "outlet",
    "electronic equipment", "mechanism", "mechanical device", "machine", "tool", "sheet",
    "flat solid", "vessel", "craft", "wheeled vehicle", "self-propelled vehicle",
    "motor vehicle", "location", "point", "region", "area", "line", "padding", "cushion",
    "piece", "instrument", "medium", "worker", "person", "individual", "someone", "somebody",
    "mortal", "soul", "adult", "peripheral", "electronic device", "electrical device",
    "restraint", "constraint", "support", "protective garment", "garment", "clothing",
    "wear", "wearable", "vesture", "apparel", "dress", "consumer good", "drug of abuse",
    "drug", "agent",
}
# The categories people name things by; a caption says the first one found on the way up.
EVERYDAY = [
    "bird", "fish", "dog", "cat", "insect", "spider", "snake", "lizard", "turtle", "frog",
    "monkey", "bear", "horse", "cattle", "sheep", "pig", "shark", "whale", "crab", "reptile",
    "amphibian", "mammal", "animal", "fruit", "vegetable", "beverage", "food", "flower",
    "tree", "fungus", "plant", "car", "truck", "bus", "train", "boat", "ship", "aircraft",
    "bicycle", "vehicle", "building", "furniture", "musical instrument", "clothing", "shoe",
    "hat", "weapon", "toy", "appliance", "computer", "telephone", "ball", "bag", "tool",
]
MAX_WORDS = 8  # per label, nearest first


def _synsets(data_noun: Path) -> dict[str, tuple[list[str], list[str]]]:
    """offset -> (lemmas, hypernym offsets)."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for line in data_noun.read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):
            continue  # the license header
        fields = line.split(" | ", 1)[0].split()
        offset, n_words = fields[0], int(fields[3], 16)
        lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
        at = 4 + 2 * n_words
        n_ptr = int(fields[at])
        ups = [fields[at + 1 + 4 * i + 1] for i in range(n_ptr)
               if fields[at + 1 + 4 * i] in ("@", "@i") and fields[at + 1 + 4 * i + 2] == "n"]
        out[offset] = (lemmas, ups)
    return out


def hypernym_words(offset: str, synsets: dict[str, tuple[list[str], list[str]]]) -> list[str]:
    """The first lemma of each ancestor, breadth first (nearest first), abstract ones left out."""
    words: list[str] = []
    seen, frontier = {offset}, [offset]
    while frontier:
        nxt = []
        for s in frontier:
            for up in synsets[s][1]:
                if up not in seen:
                    seen.add(up)
                    nxt.append(up)
                    word = synsets[up][0][0].lower()
                    if word not in ABSTRACT and word not in words:
                        words.append(word)
        frontier = nxt
    return words[:MAX_WORDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--synsets", type=Path, required=True,
                        help="1,000 ImageNet wnids in class order (timm's imagenet_synsets.txt)")
    args = parser.parse_args()
    synsets = _synsets(args.wordnet / "data.noun")
    wnids = args.synsets.read_text().split()
    labels = LABELS.read_text().splitlines()
    assert len(wnids) == len(labels) == 1000
    by_label: dict[str, list[list[str]]] = {}
    for wnid, label in zip(wnids, labels, strict=True):
        by_label.setdefault(label, []).append(hypernym_words(wnid[1:], synsets))
    lines = ["# label\thypernyms, nearest first\teveryday ones for captions "
             "(generated by build_hypernyms.py from WordNet 3.0)"]
    for label in dict.fromkeys(labels):
        found = by_label[label]
        # A name two classes share ("crane": a bird and a machine) keeps only what both are.
        words = [w for w in found[0] if all(w in other for other in found[1:])]
        words = [w for w in words if w != label.lower()]
        everyday = next((w for w in words if w in EVERYDAY), None)
        common = list(dict.fromkeys(w for w in [*words[:1], everyday or ""] if w))
        lines.append(f"{label}\t{';'.join(words)}\t{';'.join(common)}")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(lines) - 1} labels)")


if __name__ == "__main__":
    main()
