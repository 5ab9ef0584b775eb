"""Folders: type=folder rows of the media tree."""
