// The uploader (templates/_upload.html): a dialog any page can open for a collection, with a
// button `data-upload-dataset="<id>"` (and optional `data-upload-name`, `data-upload-path`, an
// ltree folder path), or by dropping files on an element carrying those attributes.
// Files and whole folders (drag and drop, or the pickers) go through our tus client; the
// folder tree is recreated with the folders API (POST /api/folder, reuse) and each file's tus
// `path`. Per-file and total progress, retry and cancel, then each item's processing status
// (metadata.processing, polled) until it is ready or failed.
import { api, ApiError, showError } from "./api.js";
import { DEFAULT_CHUNK, TusUpload } from "./tus.js";

const dialog = document.getElementById("upload-dialog");
const PARALLEL = 2;
const POLL_MS = [1000, 1000, 2000, 2000, 3000, 5000];

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function chunkSize(root) {
  const stored = Number(localStorage.getItem("coreviz.uploadChunkBytes")); // for slow links and tests
  if (Number.isFinite(stored) && stored >= 64 * 1024) return stored;
  return Number(root.dataset.chunkBytes) || DEFAULT_CHUNK;
}

// ---- reading what was dropped or picked: [{file, dirs: ["a", "b"]}] plus empty folders ----

function readAll(reader) {
  return new Promise((resolve, reject) => {
    const entries = [];
    const more = () => reader.readEntries((batch) => {
      if (!batch.length) return resolve(entries);
      entries.push(...batch);
      more();
    }, reject);
    more();
  });
}

async function walk(entry, dirs, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.files.push({ file, dirs });
  } else if (entry.isDirectory) {
    const inside = [...dirs, entry.name];
    out.folders.push(inside);
    for (const child of await readAll(entry.createReader())) await walk(child, inside, out);
  }
}

async function fromDataTransfer(transfer) {
  const out = { files: [], folders: [] };
  const entries = [];
  for (const item of transfer.items || []) {
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else if (item.getAsFile()) out.files.push({ file: item.getAsFile(), dirs: [] });
  }
  if (!entries.length && !out.files.length) {
    for (const file of transfer.files || []) out.files.push({ file, dirs: [] });
  }
  for (const entry of entries) await walk(entry, [], out);
  return out;
}

function fromInput(input) {
  const out = { files: [], folders: [] };
  for (const file of input.files) {
    const parts = (file.webkitRelativePath || file.name).split("/").filter(Boolean);
    out.files.push({ file, dirs: parts.slice(0, -1) });
  }
  return out;
}

// ---- one uploader per dialog ----

class Uploader {
  constructor(root) {
    this.root = root;
    this.list = root.querySelector(".upload-list");
    this.error = root.querySelector(".upload-error");
    this.note = root.querySelector(".upload-note");
    this.totalBar = root.querySelector(".upload-total progress");
    this.totalText = root.querySelector(".upload-total .total-text");
    this.items = [];
    this.running = 0;
    this.folders = new Map(); // "dataset|base|a/b" -> Promise of that folder's ltree path
    this.maxSize = null;
    this.polling = false;
    this.target = { datasetId: null, name: "", path: "" };
  }

  setTarget(datasetId, name, path) {
    if (this.target.datasetId && this.target.datasetId !== datasetId) {
      // Another collection: what is done for the last one leaves the list (what still goes on stays).
      const done = ["ready", "failed", "failed-processing", "canceled"];
      for (const item of this.items.filter((i) => done.includes(i.state))) item.li.remove();
      this.items = this.items.filter((i) => !done.includes(i.state));
      this.total();
      this.root.querySelector(".upload-total").hidden = !this.items.length;
    }
    this.target = { datasetId, name: name || "this collection", path: path || "" };
    this.root.querySelector(".upload-target").textContent = this.target.name;
  }

  async limit() {
    if (this.maxSize !== null) return this.maxSize;
    try {
      const answer = await fetch("/api/upload/tus", { method: "OPTIONS", credentials: "same-origin" });
      this.maxSize = Number(answer.headers.get("Tus-Max-Size")) || Infinity;
    } catch {
      return Infinity; // asked again next time
    }
    return this.maxSize;
  }

  async add(found) {
    showError(this.error, "");
    showError(this.note, "");
    const { datasetId, path } = this.target;
    if (!datasetId) return;
    const hidden = found.files.filter(({ file }) => file.name.startsWith("."));
    const files = found.files.filter(({ file }) => !file.name.startsWith("."));
    if (!files.length && !found.folders.length) {
      showError(this.error, hidden.length ? "Only hidden files were chosen (names starting with a dot); nothing to upload." : "Nothing to upload: no files were chosen.");
      return;
    }
    if (hidden.length) showError(this.note, `${hidden.length} hidden file${hidden.length === 1 ? "" : "s"} (names starting with a dot) skipped.`);
    const max = await this.limit();
    for (const dirs of found.folders) {
      this.folderPath(datasetId, path, dirs).catch((err) => showError(this.error, `Folder ${dirs.join("/")}: ${err.message}`));
    }
    for (const { file, dirs } of files) {
      const item = this.row(file, dirs, datasetId, path);
      if (file.size === 0) this.fail(item, "The file is empty.", false);
      else if (file.size > max) this.fail(item, `Too large: ${formatBytes(file.size)}; this server takes files up to ${formatBytes(max)}.`, false);
      else item.state = "waiting";
    }
    this.root.querySelector(".upload-total").hidden = false;
    this.total();
    this.pump();
  }

  row(file, dirs, datasetId, base) {
    const li = document.createElement("li");
    li.className = "upload-item";
    li.dataset.testid = "upload-item";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = [...dirs, file.name].join("/");
    const size = document.createElement("span");
    size.className = "muted upload-size";
    size.textContent = formatBytes(file.size);
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Progress of ${file.name}`);
    const status = document.createElement("span");
    status.className = "upload-status";
    status.dataset.testid = "upload-status";
    status.setAttribute("aria-live", "polite");
    status.textContent = "Waiting";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = "Retry";
    retry.hidden = true;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "link";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${file.name}`);
    const buttons = document.createElement("span");
    buttons.className = "upload-buttons";
    buttons.append(retry, cancel);
    li.append(name, size, bar, status, buttons);
    this.list.append(li);
    const item = { file, dirs, datasetId, base, li, bar, status, retry, cancel, sent: 0, state: "waiting", tus: null, mediaId: null };
    retry.addEventListener("click", () => {
      retry.hidden = true;
      item.state = "waiting";
      item.li.classList.remove("failed");
      this.say(item, "Waiting");
      this.pump();
    });
    cancel.addEventListener("click", () => this.cancel(item));
    this.items.push(item);
    return item;
  }

  say(item, text) {
    item.status.textContent = text;
  }

  fail(item, text, canRetry) {
    item.state = "failed";
    item.li.classList.add("failed");
    item.li.dataset.state = "failed";
    this.say(item, text);
    item.retry.hidden = !canRetry;
    // What the server holds, not what the browser had sent when the refusal came.
    item.sent = item.tus && item.tus.url ? item.tus.offset : 0;
    item.bar.value = Math.floor((100 * item.sent) / (item.file.size || 1));
    item.cancel.hidden = !canRetry || !item.tus || !item.tus.url; // Cancel: DELETE what is kept
    this.total();
  }

  async cancel(item) {
    item.state = "canceled";
    item.li.dataset.state = "canceled";
    item.cancel.hidden = true;
    item.retry.hidden = true;
    this.say(item, "Canceled");
    if (item.tus) await item.tus.cancel();
    this.total();
  }

  total() {
    const counted = this.items.filter((i) => i.state !== "canceled");
    const bytes = counted.reduce((sum, i) => sum + i.file.size, 0);
    const sent = counted.reduce((sum, i) => sum + i.sent, 0);
    const percent = bytes ? Math.floor((100 * sent) / bytes) : 0;
    const done = counted.filter((i) => ["processing", "ready", "failed-processing"].includes(i.state)).length;
    const failed = counted.filter((i) => i.state === "failed").length;
    this.totalBar.value = percent;
    this.totalText.textContent = `${done} of ${counted.length} uploaded · ${percent}% of ${formatBytes(bytes)}` +
      (failed ? ` · ${failed} failed` : "");
    this.root.dataset.percent = String(percent);
  }

  // The ltree path of the folder `dirs` under `base`, made (or reused) one level at a time.
  folderPath(datasetId, base, dirs) {
    if (!dirs.length) return Promise.resolve(base);
    const key = `${datasetId}|${base}|${dirs.join("/")}`;
    if (!this.folders.has(key)) {
      const made = this.folderPath(datasetId, base, dirs.slice(0, -1)).then(async (parent) => {
        const body = { datasetId, name: dirs[dirs.length - 1], reuse: true };
        if (parent) body.path = parent;
        const answer = await api("/api/folder", { method: "POST", body });
        return answer.folder.path;
      });
      made.catch(() => this.folders.delete(key)); // a retry asks again
      this.folders.set(key, made);
    }
    return this.folders.get(key);
  }

  pump() {
    while (this.running < PARALLEL) {
      const next = this.items.find((i) => i.state === "waiting");
      if (!next) return;
      this.running += 1;
      this.send(next).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  async send(item) {
    item.state = "uploading";
    item.li.dataset.state = "uploading";
    item.cancel.hidden = false;
    this.say(item, "Uploading 0%");
    let path;
    try {
      path = await this.folderPath(item.datasetId, item.base, item.dirs);
    } catch (err) {
      this.fail(item, `The folder could not be made: ${err.message}`, !(err instanceof ApiError) || err.status >= 500 || err.status === 0);
      return;
    }
    if (item.state === "canceled") return;
    if (!item.tus) {
      item.tus = new TusUpload(item.file, {
        metadata: { datasetId: item.datasetId, path, filename: item.file.name, filetype: item.file.type },
        chunkSize: chunkSize(this.root),
        onProgress: (sent, size) => {
          item.sent = sent;
          const percent = Math.floor((100 * sent) / size);
          item.bar.value = percent;
          if (item.state === "uploading") this.say(item, `Uploading ${percent}%`);
          this.total();
        },
        onRetry: (why, attempt) => {
          if (item.state === "uploading") this.say(item, `${why} Trying again (${attempt})…`);
        },
      });
    }
    try {
      item.mediaId = await item.tus.start();
    } catch (err) {
      if (item.state === "canceled") return;
      this.fail(item, err.message, err.canRetry !== false);
      return;
    }
    if (item.state === "canceled") return;
    item.sent = item.file.size;
    item.bar.value = 100;
    item.state = "processing";
    item.li.dataset.state = "processing";
    item.li.dataset.mediaId = item.mediaId;
    item.cancel.hidden = true;
    this.say(item, "Uploaded · queued for processing");
    this.total();
    this.poll();
  }

  // Each uploaded item's processing status, until every one is ready or failed.
  async poll() {
    if (this.polling) return;
    this.polling = true;
    let round = 0;
    try {
      for (;;) {
        const waiting = this.items.filter((i) => i.state === "processing");
        if (!waiting.length) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS[Math.min(round, POLL_MS.length - 1)]));
        round += 1;
        for (const item of waiting) {
          let media;
          try {
            media = (await api(`/api/media/${item.mediaId}`)).media;
          } catch (err) {
            if (err.status === 404) this.processed(item, "failed", "The item was deleted.");
            continue; // the network: ask again next round
          }
          const processing = (media.metadata && media.metadata.processing) || {};
          if (processing.status === "ready") this.processed(item, "ready");
          else if (processing.status === "failed") this.processed(item, "failed", processing.error);
          else this.say(item, processing.status === "processing" ? "Processing…" : "Uploaded · queued for processing");
        }
      }
    } finally {
      this.polling = false;
    }
  }

  processed(item, status, error) {
    item.state = status === "ready" ? "ready" : "failed-processing";
    item.li.dataset.state = item.state;
    item.status.textContent = "";
    if (status === "ready") {
      const link = document.createElement("a");
      link.href = `/m/${item.mediaId}`;
      link.textContent = "Ready";
      item.status.append(link);
    } else {
      item.li.classList.add("failed");
      item.status.textContent = `Processing failed${error ? `: ${error}` : "."}`;
    }
    this.total();
    this.root.dispatchEvent(new CustomEvent("upload:processed", { bubbles: true, detail: { mediaId: item.mediaId, status } }));
  }
}

// ---- wiring ----

if (dialog) {
  const root = dialog.querySelector(".uploader");
  const uploader = new Uploader(root);
  const zone = root.querySelector(".dropzone");
  const pickFiles = root.querySelector("input.pick-files");
  const pickFolder = root.querySelector("input.pick-folder");

  const open = (from) => {
    uploader.setTarget(from.dataset.uploadDataset, from.dataset.uploadName, from.dataset.uploadPath);
    if (!dialog.open) dialog.showModal();
  };

  for (const button of document.querySelectorAll("button[data-upload-dataset]")) button.disabled = false;
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-upload-dataset]");
    if (button) open(button);
  });
  dialog.querySelector(".upload-close").addEventListener("click", () => dialog.close());
  // A page that shows counts and covers (the collections page) reloads once something came in.
  dialog.addEventListener("close", () => {
    const busy = uploader.items.some((i) => i.state === "uploading" || i.state === "waiting");
    const came = uploader.items.some((i) => i.mediaId);
    if ("reloadOnClose" in dialog.dataset && came && !busy) location.reload();
  });
  for (const input of [pickFiles, pickFolder]) {
    input.disabled = false;
    input.addEventListener("change", () => {
      uploader.add(fromInput(input));
      input.value = "";
    });
  }

  const over = (element, on) => element.classList.toggle("dragover", on);
  const accept = (element, before) => {
    element.addEventListener("dragover", (event) => {
      if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      over(element, true);
    });
    element.addEventListener("dragleave", () => over(element, false));
    element.addEventListener("drop", async (event) => {
      if (!event.dataTransfer) return;
      event.preventDefault();
      over(element, false);
      if (before) before();
      try {
        uploader.add(await fromDataTransfer(event.dataTransfer));
      } catch (err) {
        showError(uploader.error, `The dropped files could not be read: ${err.message}`);
      }
    });
  };
  accept(zone);
  // A page may offer drops outside the dialog: any element naming a collection to upload to.
  for (const target of document.querySelectorAll("[data-upload-drop][data-upload-dataset]")) {
    accept(target, () => open(target));
  }
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      pickFiles.click();
    }
  });
  root.dataset.ready = "true";
}
