#!/bin/bash
# Drive the official SDK (@coreviz/sdk, built from its source) against a live server, method by
# method, with a fake OpenAI-compatible images endpoint on 127.0.0.1 (`with`) or without one
# (`without`). Not part of the suite: it needs Node and npm (for typescript) and a checkout of
# github.com/coreviz/sdk. Usage: tests/sdk_parity/run.sh <sdk checkout> with|without
set -eu
SDK=$(realpath "$1"); MODE=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python}
export PYTHONPATH=$ROOT/src:$ROOT
WORK=$(mktemp -d /tmp/sdk-parity.XXXX)
trap 'kill $SERVER ${FAKE:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
(cd "$WORK" && cp -r "$SDK/src" "$SDK/package.json" "$SDK/tsconfig.json" . \
  && npm install --no-audit --no-fund --silent typescript@5 @types/node@24 >/dev/null \
  && { npx tsc -p . >/dev/null || true; })  # emits despite the optional modules' missing types
cp "$ROOT/tests/sdk_parity/drive.js" "$WORK/"
$PY -c "from tests import media_files; open('$WORK/astronaut.jpg','wb').write(media_files.photo('astronaut'))"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$MODE" = with ]; then
  $PY "$ROOT/tests/sdk_parity/fake_images_server.py" > "$WORK/fake.url" &
  FAKE=$!
  for _ in $(seq 50); do [ -s "$WORK/fake.url" ] && break; sleep 0.2; done
  export COREVIZ_IMAGE_API_BASE=$(cat "$WORK/fake.url")
fi
COREVIZ_WORKERS=1 $PY -m coreviz_studio serve --port "$PORT" --data-dir "$WORK/data" \
  > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
for _ in $(seq 120); do
  grep -q cvz_ "$WORK/serve.out" 2>/dev/null && curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 1
done
KEY=$(grep -o "cvz_[A-Za-z0-9_-]*" "$WORK/serve.out" | head -1)
cd "$WORK" && node drive.js "http://127.0.0.1:$PORT" "$KEY" "$WORK/astronaut.jpg" "$MODE"
