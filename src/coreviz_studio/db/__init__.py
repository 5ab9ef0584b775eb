"""The database: schema (tables.py), sessions (session.py), the embedded server (embedded.py)."""
