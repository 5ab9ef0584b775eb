"""tests/fake_images.py as a process of its own, for run.sh: prints its URL, serves until
killed."""

from __future__ import annotations

import threading

from tests.fake_images import fake_images

if __name__ == "__main__":
    with fake_images() as fake:
        print(fake.url, flush=True)
        threading.Event().wait()
