"""Serving blobs at their public, unguessable URLs."""
