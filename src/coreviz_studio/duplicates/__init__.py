"""Exact and near duplicates within a collection (docs/duplicates.md)."""
