"""Uploads: streaming multipart, type detection from content, probing."""
