"""Finding media again: the text document of each media, hybrid (text + vector) scoring,
organization-wide search, "find similar" and clusters of faces and objects."""
