"""Imported by the sandbox's fork server (sandbox.py) before it forks any decoding child:
every decoder is loaded there once, so a child starts with them instead of importing Pillow's
plugins, HEIF, PyAV, PDFium and LibRaw for each file it decodes."""

import gc

from coreviz_studio.pipeline import decode, sandbox  # noqa: F401  (sandbox: the children's code)

decode.load_decoders()
# What is loaded now is never garbage: kept out of the collector's scans, a child's collection
# does not touch (and so copy) every page it shares with the fork server.
gc.freeze()
