"""schemathesis hooks (schemathesis.toml `hooks`): a tus chunk is bytes, like octet-stream."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
