"""Media items: get, update, delete, move, versions and browse."""
