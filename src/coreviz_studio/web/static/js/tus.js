// A small tus 1.0 client of our own (core, creation, termination, checksum), for the server's
// /api/upload/tus (docs/uploads.md). One TusUpload sends one file in chunks; after a network
// error, a 409 (offset moved), a 423 (another request holds the upload) or a 5xx it waits
// (backoff), asks HEAD where the server is, and goes on from there. Errors that retrying
// cannot fix (too large, unsupported type, gone) end it with a message for a person.

const TUS = "1.0.0";
export const DEFAULT_CHUNK = 32 * 1024 * 1024;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

export class TusError extends Error {
  constructor(message, status, retryable) {
    super(message);
    this.status = status;
    this.retryable = retryable; // retried on its own (the network, a lock, the server)
    // May the person's Retry help? Not for a file too large or of a type the server refuses.
    this.canRetry = status !== -1 && ![400, 413, 415, 422].includes(status);
  }
}

function b64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function encodeMetadata(metadata) {
  return Object.entries(metadata)
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([key, value]) => `${key} ${b64(String(value))}`)
    .join(",");
}

function messageOf(status, body) {
  let said = "";
  try {
    said = JSON.parse(body || "{}").message || "";
  } catch {
    said = "";
  }
  switch (status) {
    case 0: return "The connection was lost.";
    case 404: return said || "The upload is gone (the collection or folder may have been deleted).";
    case 410: return "The upload expired on the server; retry to send the file again.";
    case 413: return said || "The file is too large for this server.";
    case 415: return said || "This type of file is not supported.";
    case 507: return said || "The server's disk is full; try again later.";
    default:
      if (status >= 500) return "The server could not take the file right now.";
      return said || `The upload was refused (${status}).`;
  }
}

// Statuses after which asking HEAD and going on may work.
const RESUMABLE = new Set([0, 408, 409, 423, 429, 460, 500, 502, 503, 504]);

function request(method, url, { headers = {}, body = null, onProgress, track } = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Tus-Resumable", TUS);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    const done = () => {
      if (track) track.xhr = null;
      resolve({ status: xhr.status, body: xhr.responseText, header: (n) => xhr.getResponseHeader(n) });
    };
    xhr.onload = done;
    xhr.onerror = done;   // status 0: the network
    xhr.onabort = done;
    xhr.ontimeout = done;
    if (track) track.xhr = xhr;
    xhr.send(body);
  });
}

async function sha256(blob) {
  if (!globalThis.crypto || !crypto.subtle) return null; // not a secure context: no checksum
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  let binary = "";
  for (const byte of new Uint8Array(digest)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export class TusUpload {
  // file: a File or Blob; endpoint: the tus creation URL; metadata: {key: value}.
  // onProgress(sent, total) and onState(state, detail) report to the page.
  constructor(file, { endpoint = "/api/upload/tus", metadata = {}, chunkSize = DEFAULT_CHUNK,
    onProgress = () => {}, onRetry = () => {} } = {}) {
    this.file = file;
    this.endpoint = endpoint;
    this.metadata = metadata;
    this.chunkSize = chunkSize;
    this.onProgress = onProgress;
    this.onRetry = onRetry;
    this.url = null;       // the upload's URL once created
    this.offset = 0;
    this.mediaId = null;
    this.canceled = false;
    this.track = { xhr: null };
    this.wake = null;      // resolves a backoff wait early (the browser came back online)
  }

  // Send the file (or what is left of it). Resolves with the media id; rejects with TusError.
  async start() {
    this.canceled = false;
    let failures = 0;
    if (this.url && !this.mediaId) { // a Retry: where did the server get to?
      try {
        await this.head();
      } catch (err) {
        if (!(err instanceof TusError) || !err.retryable) throw err;
      }
    }
    for (;;) {
      if (this.canceled) throw new TusError("Canceled.", -1, false);
      let answer;
      try {
        answer = await this.step();
      } catch (err) {
        if (err instanceof TusError && err.retryable && failures < BACKOFF_MS.length && !this.canceled) {
          this.onRetry(err.message, failures + 1);
          await this.backoff(BACKOFF_MS[failures]);
          failures += 1;
          try {
            if (this.url) await this.head();
          } catch (headErr) {
            if (!(headErr instanceof TusError) || !headErr.retryable) throw headErr;
          }
          continue;
        }
        throw err;
      }
      failures = 0;
      if (answer) return answer;
    }
  }

  backoff(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const online = () => done();
      function done() {
        clearTimeout(timer);
        globalThis.removeEventListener("online", online);
        resolve();
      }
      globalThis.addEventListener("online", online);
      this.wake = done;
    });
  }

  // One request: create, or one PATCH. Returns the media id when the file is complete.
  async step() {
    if (!this.url) {
      const made = await request("POST", this.endpoint, {
        headers: { "Upload-Length": String(this.file.size), "Upload-Metadata": encodeMetadata(this.metadata) },
        track: this.track,
      });
      if (made.status !== 201) throw this.failure(made);
      this.url = new URL(made.header("Location"), new URL(this.endpoint, location.href)).href;
      this.offset = 0;
      return null;
    }
    if (this.mediaId) return this.mediaId;
    const end = Math.min(this.offset + this.chunkSize, this.file.size);
    const chunk = this.file.slice(this.offset, end);
    const headers = { "Upload-Offset": String(this.offset), "Content-Type": "application/offset+octet-stream" };
    const digest = await sha256(chunk);
    if (digest) headers["Upload-Checksum"] = `sha256 ${digest}`;
    const base = this.offset;
    const sent = await request("PATCH", this.url, {
      headers, body: chunk, track: this.track,
      onProgress: (loaded) => this.onProgress(Math.min(base + loaded, end), this.file.size),
    });
    if (sent.status !== 204) throw this.failure(sent);
    this.offset = Number(sent.header("Upload-Offset"));
    this.onProgress(this.offset, this.file.size);
    const mediaId = sent.header("CoreViz-Media-Id");
    if (mediaId) {
      this.mediaId = mediaId;
      return mediaId;
    }
    if (this.offset >= this.file.size) await this.head(); // finished, its answer missed
    return this.mediaId;
  }

  // Where the server is: its offset, and the media id once the file is complete.
  async head() {
    const answer = await request("HEAD", this.url, { track: this.track });
    if (answer.status === 404 || answer.status === 410) {
      this.url = null; // expired or removed: start again from the first byte
      this.offset = 0;
      this.onProgress(0, this.file.size);
      throw new TusError(messageOf(410, ""), 410, true);
    }
    if (answer.status !== 200) throw this.failure(answer);
    this.offset = Number(answer.header("Upload-Offset"));
    this.mediaId = answer.header("CoreViz-Media-Id") || null;
    this.onProgress(this.offset, this.file.size);
  }

  failure(answer) {
    if (this.canceled) return new TusError("Canceled.", -1, false);
    return new TusError(messageOf(answer.status, answer.body), answer.status,
                        RESUMABLE.has(answer.status));
  }

  // Stop sending and remove the upload and its bytes on the server (tus termination).
  async cancel() {
    this.canceled = true;
    if (this.track.xhr) this.track.xhr.abort();
    if (this.wake) this.wake();
    if (this.url && !this.mediaId) {
      await request("DELETE", this.url).catch(() => null);
      this.url = null;
    }
  }
}
