"""Words that help people find photos without a GPU model: what the labels are a kind of
(WordNet hypernyms), how many people are in the picture, its colours and light, and when,
with what and where it was taken (EXIF); and the cutoff that keeps unrelated items out of a
search's results. Pure functions; the pipeline and search call them (docs/ai.md, docs/search.md).
"""
