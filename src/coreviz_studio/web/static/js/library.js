// The library view: a virtual grid over the browse API (only the rows on screen, and a few
// around them, are in the DOM; each row of pages is fetched once, when it comes near), with
// selection, bulk move / tag / delete and keyboard navigation. Thumbnails only, never originals.
import { api, showError } from "./api.js";

const grid = document.getElementById("grid");
const info = grid.dataset;
const canEdit = info.canEdit === "true";
const error = document.getElementById("library-error");
const empty = document.getElementById("grid-empty");
const totalText = document.getElementById("total");
const PAGE = 120; // items per browse call (web/library.py's FIRST_PAGE: it is preloaded)
const GAP = 8;
const LABEL = 28; // the name under each thumbnail, px
// Rows drawn above and below the screen: one screenful each way, so a scroll (or a page down)
// finds its tiles drawn and their thumbnails already loading.
const overscan = () => Math.max(3, Math.ceil(window.innerHeight / rowHeight) + 1);

const STATUS = { queued: "Queued", processing: "Processing", failed: "Failed" };
const FOLDER_ICON = "/static/folder.svg";

// --- the query the URL asks for, as the server wrote it (the same URL as the page's preload
// of the first page; browse checks it, and its message is shown when it is wrong)
const baseQuery = new URLSearchParams(info.query);

// --- data: a sparse array of items, filled a page at a time
let items = [];
let total = null;
let pages = new Map(); // page number -> promise
let generation = 0; // bumped by reload(): answers of an older listing are dropped

function fetchPage(page) {
  if (pages.has(page)) return pages.get(page);
  const mine = generation;
  // The server writes the query (`data-query`) and preloads its first page: the same URL.
  const url = `/api/dataset/${info.dataset}/media?${info.query}&limit=${PAGE}&offset=${page * PAGE}`;
  const promise = api(url).then((answer) => {
    if (mine !== generation) return;
    answer.media.forEach((m, i) => { items[page * PAGE + i] = m; });
    if (total !== answer.pagination.total) {
      total = answer.pagination.total;
      layout();
    }
    render();
  }).catch((err) => {
    if (mine !== generation) return;
    pages.delete(page);
    showError(error, err.message);
  });
  promise.settled = false;
  promise.finally(() => { promise.settled = true; });
  pages.set(page, promise);
  return promise;
}

function reload() {
  generation += 1;
  items = [];
  pages = new Map();
  for (const li of drawn.values()) li.remove();
  drawn.clear();
  return fetchPage(0);
}

// --- layout: columns from the width; rows of fixed height, so any row's place is known
let cols = 4;
let tile = 150;
let rowHeight = tile + LABEL + GAP;
let gridTop = 0;

function layout() {
  const width = grid.clientWidth;
  const min = width < 520 ? 104 : 150;
  cols = Math.max(2, Math.floor((width + GAP) / (min + GAP)));
  tile = Math.floor((width - GAP * (cols - 1)) / cols);
  rowHeight = tile + LABEL + GAP;
  const rows = Math.ceil((total || 0) / cols);
  grid.style.height = `${Math.max(0, rows * rowHeight - GAP)}px`;
  gridTop = grid.getBoundingClientRect().top + window.scrollY;
  if (total !== null) {
    totalText.textContent = `${total.toLocaleString()} item${total === 1 ? "" : "s"}`;
    empty.hidden = total !== 0;
  }
  for (const [index, li] of drawn) place(li, index);
  render();
}

function place(li, index) {
  const row = Math.floor(index / cols);
  const col = index % cols;
  li.style.transform = `translate(${col * (tile + GAP)}px, ${row * rowHeight}px)`;
  li.style.width = `${tile}px`;
  li.style.height = `${tile + LABEL}px`;
}

// --- drawing: only the tiles of the visible rows
const drawn = new Map(); // index -> li
let focusIndex = 0;
const selected = new Map(); // id -> item
let anchor = null; // the index a shift-click extends from

function visibleRange() {
  gridTop = grid.getBoundingClientRect().top + window.scrollY; // the filters may open above it
  const top = window.scrollY - gridTop;
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan());
  const last = Math.ceil((top + window.innerHeight) / rowHeight) + overscan();
  return [first * cols, Math.min(total || 0, last * cols)];
}

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; render(); });
}

function render() {
  if (total === null) return;
  const [from, to] = visibleRange();
  for (const [index, li] of drawn) {
    if (index < from || index >= to) {
      if (li.contains(document.activeElement)) continue; // keep the focused tile
      li.remove();
      drawn.delete(index);
    }
  }
  for (let page = Math.floor(from / PAGE); page * PAGE < to; page += 1) fetchPage(page);
  for (let index = from; index < to; index += 1) {
    const item = items[index];
    let li = drawn.get(index);
    if (li && li.dataset.key === keyOf(item)) continue;
    const fresh = item ? tileFor(item, index) : skeleton(index);
    const focused = li && li.contains(document.activeElement);
    if (li) li.replaceWith(fresh); else grid.append(fresh);
    if (focused) fresh.querySelector(".tile-link")?.focus({ preventScroll: true });
    drawn.set(index, fresh);
    place(fresh, index);
  }
}

// What a tile shows of its item: it is drawn again when this changes (processing ended).
function keyOf(item) {
  if (!item) return "";
  const processing = (item.metadata && item.metadata.processing) || {};
  return `${item.id} ${processing.status || ""} ${item.thumbnail || ""}`;
}

function skeleton(index) {
  const li = document.createElement("li");
  li.className = "tile skeleton";
  li.dataset.id = "";
  li.dataset.key = "";
  li.dataset.index = String(index);
  li.setAttribute("aria-hidden", "true");
  return li;
}

function hrefOf(item) {
  if (item.type === "folder") {
    const q = new URLSearchParams({ path: item.path, sort: info.sort, dir: info.dir });
    return `/c/${info.dataset}?${q}`;
  }
  return `/m/${item.id}`;
}

function tileFor(item, index) {
  const li = document.createElement("li");
  li.className = `tile type-${item.type}`;
  li.dataset.id = item.id;
  li.dataset.key = keyOf(item);
  li.dataset.index = String(index);
  li.dataset.testid = "tile";
  li.setAttribute("aria-posinset", String(index + 1));
  li.setAttribute("aria-setsize", String(total));
  const link = document.createElement("a");
  link.className = "tile-link";
  link.href = hrefOf(item);
  link.tabIndex = index === focusIndex ? 0 : -1;
  const label = item.type === "folder" ? `Folder ${item.name}` : item.name;
  link.setAttribute("aria-label", label);
  const picture = item.type === "folder" ? FOLDER_ICON : item.thumbnail;
  if (picture) {
    const img = document.createElement("img");
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    img.width = tile;
    img.height = tile;
    img.src = picture;
    img.className = item.type === "folder" ? "thumb folder-icon" : "thumb";
    link.append(img);
  } else {
    const ph = document.createElement("span");
    ph.className = "thumb placeholder";
    ph.textContent = item.type.toUpperCase();
    link.append(ph);
  }
  if (item.type === "video" || item.type === "pdf") {
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = item.type === "video" ? "▶ video" : "PDF";
    link.append(kind);
  }
  const name = document.createElement("span");
  name.className = "tile-name";
  name.textContent = item.name;
  link.append(name);
  li.append(link);

  const processing = (item.metadata && item.metadata.processing) || {};
  if (STATUS[processing.status]) {
    const badge = document.createElement("span");
    badge.className = `badge badge-${processing.status}`;
    badge.dataset.testid = "badge";
    badge.textContent = STATUS[processing.status];
    li.append(badge);
    if (processing.status === "failed") {
      const reason = document.createElement("span");
      reason.className = "reason";
      reason.id = `reason-${item.id}`;
      reason.dataset.testid = "reason";
      reason.textContent = processing.error || "Processing failed.";
      badge.title = reason.textContent;
      link.setAttribute("aria-describedby", reason.id);
      li.append(reason);
    }
  }
  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "tile-check";
  check.tabIndex = -1;
  check.setAttribute("aria-label", `Select ${item.name}`);
  check.checked = selected.has(item.id);
  li.classList.toggle("selected", check.checked);
  li.append(check);
  return li;
}

// --- selection
const selectionText = document.getElementById("selection");
const bulk = document.getElementById("bulk");
const clearButton = document.getElementById("clear-selection");
const selectAll = document.getElementById("select-all");

function showSelection() {
  const n = selected.size;
  selectionText.textContent = n ? `${n.toLocaleString()} selected` : "";
  if (bulk) bulk.hidden = n === 0;
  clearButton.hidden = n === 0;
  grid.classList.toggle("selecting", n > 0);
  for (const li of drawn.values()) {
    const on = selected.has(li.dataset.id);
    li.classList.toggle("selected", on);
    const check = li.querySelector(".tile-check");
    if (check) check.checked = on;
  }
}

function toggle(index, on) {
  const item = items[index];
  if (!item) return;
  const want = on === undefined ? !selected.has(item.id) : on;
  if (want) selected.set(item.id, item); else selected.delete(item.id);
}

function extendTo(index) {
  const from = Math.min(anchor ?? index, index);
  const to = Math.max(anchor ?? index, index);
  for (let i = from; i <= to; i += 1) toggle(i, true);
}

function clearSelection() {
  selected.clear();
  anchor = null;
  showSelection();
}

clearButton.addEventListener("click", clearSelection);

const SELECT_ALL_MAX = 5000;
selectAll.addEventListener("click", async () => {
  if (total === null) return;
  if (total > SELECT_ALL_MAX) {
    showError(error, `Select all works on up to ${SELECT_ALL_MAX.toLocaleString()} items; ` +
      `narrow this view with a folder or a filter first (it shows ${total.toLocaleString()}).`);
    return;
  }
  selectAll.disabled = true;
  try {
    const q = new URLSearchParams(baseQuery);
    q.set("limit", "1000");
    for (let offset = 0; offset < total; offset += 1000) {
      q.set("offset", String(offset));
      const answer = await api(`/api/dataset/${info.dataset}/media?${q}`);
      for (const m of answer.media) selected.set(m.id, m);
      if (!answer.pagination.hasMore) break;
    }
    showSelection();
  } catch (err) {
    showError(error, err.message);
  } finally {
    selectAll.disabled = false;
  }
});

grid.addEventListener("click", (event) => {
  const li = event.target.closest("li.tile");
  if (!li || !li.dataset.id) return;
  const index = Number(li.dataset.index);
  const onCheck = event.target.classList.contains("tile-check");
  const modified = event.shiftKey || event.ctrlKey || event.metaKey;
  // A plain click (or Enter: a click with no pointer) opens the item; once something is
  // selected, a click selects.
  if (!onCheck && !modified && (selected.size === 0 || event.detail === 0)) return;
  if (!onCheck) event.preventDefault(); // a checkbox keeps its own click: it toggles itself
  if (event.shiftKey && anchor !== null) extendTo(index);
  else toggle(index, onCheck ? event.target.checked : undefined);
  if (!event.shiftKey) anchor = index;
  focusAt(index, false);
  showSelection();
});

// --- keyboard: arrows move the focus, Enter opens (the link's own), Space selects,
// Escape clears the selection, Delete asks and moves the selection to the trash.
function focusAt(index, scroll = true) {
  if (total === null || total === 0) return;
  focusIndex = Math.max(0, Math.min(total - 1, index));
  if (scroll) {
    const top = gridTop + Math.floor(focusIndex / cols) * rowHeight;
    const bar = document.querySelector(".bar").offsetHeight + document.getElementById("toolbar").offsetHeight;
    if (top < window.scrollY + bar) window.scrollTo(0, top - bar - GAP);
    else if (top + rowHeight > window.scrollY + window.innerHeight) window.scrollTo(0, top + rowHeight - window.innerHeight + GAP);
    render();
  }
  for (const [i, li] of drawn) {
    const link = li.querySelector(".tile-link");
    if (link) link.tabIndex = i === focusIndex ? 0 : -1;
  }
  const target = drawn.get(focusIndex)?.querySelector(".tile-link");
  if (target) target.focus({ preventScroll: true });
  else fetchPage(Math.floor(focusIndex / PAGE)).then(() => {
    drawn.get(focusIndex)?.querySelector(".tile-link")?.focus({ preventScroll: true });
  });
}

grid.addEventListener("focusin", (event) => {
  const li = event.target.closest("li.tile");
  if (li && li.dataset.index) focusIndex = Number(li.dataset.index);
});

grid.addEventListener("keydown", (event) => {
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
  if (event.key in moves) {
    event.preventDefault();
    const next = focusIndex + moves[event.key];
    if (next < 0 || next >= total) return;
    focusAt(next);
    if (event.shiftKey) { anchor ??= focusIndex - moves[event.key]; extendTo(focusIndex); showSelection(); }
  } else if (event.key === "Home" || event.key === "End") {
    event.preventDefault();
    focusAt(event.key === "Home" ? 0 : total - 1);
  } else if (event.key === " ") {
    event.preventDefault();
    toggle(focusIndex);
    anchor = focusIndex;
    showSelection();
  } else if ((event.key === "a" || event.key === "A") && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    selectAll.click();
  }
});

document.addEventListener("keydown", (event) => {
  if (document.querySelector("dialog[open]")) return;
  if (event.target.closest("input, select, textarea")) return;
  if (event.key === "Escape" && selected.size) clearSelection();
  else if (event.key === "Delete" && canEdit) {
    if (!selected.size && grid.contains(document.activeElement)) toggle(focusIndex, true);
    if (selected.size) { showSelection(); askDelete(); }
  }
});

// --- bulk actions: one API call per item, a few at a time
async function each(action, verb) {
  const chosen = [...selected.values()];
  let done = 0;
  const failures = [];
  let next = 0;
  async function worker() {
    while (next < chosen.length) {
      const item = chosen[next++];
      try { await action(item); done += 1; } catch (err) { failures.push(`${item.name}: ${err.message}`); }
    }
  }
  await Promise.all(Array.from({ length: Math.min(4, chosen.length) }, worker));
  clearSelection();
  const n = (k) => `${k} item${k === 1 ? "" : "s"}`;
  toast(failures.length ? `${verb} ${n(done)}; ${n(failures.length)} could not be: ${failures.slice(0, 3).join("; ")}`
    : `${verb} ${n(done)}.`);
  await reload();
}

function toast(text) {
  const element = document.getElementById("toast");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { element.hidden = true; }, 6000);
}

function openDialog(id) {
  const dialog = document.getElementById(id);
  const n = selected.size;
  dialog.querySelector(".count-text").textContent = `${n} item${n === 1 ? "" : "s"}`;
  showError(dialog.querySelector(".error") || document.createElement("p"), "");
  dialog.returnValue = "";
  dialog.showModal();
  return dialog;
}

function askDelete() {
  const dialog = openDialog("delete-dialog");
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "ok") each((item) => api(`/api/media/${item.id}`, { method: "DELETE" }), "Moved to the trash");
  }, { once: true });
}

async function folderChoices() {
  const q = new URLSearchParams({ type: "folder", recursive: "true", limit: "1000", sortBy: "name" });
  const answer = await api(`/api/dataset/${info.dataset}/media?${q}`);
  const names = new Map(answer.media.map((f) => [f.path.split(".").pop(), f.name]));
  return answer.media.map((f) => ({
    path: f.path,
    label: f.path.split(".").slice(1).map((id) => names.get(id) || "?").join(" / "),
  })).sort((a, b) => a.label.localeCompare(b.label));
}

if (canEdit) {
  document.getElementById("bulk-delete").addEventListener("click", askDelete);

  document.getElementById("bulk-move").addEventListener("click", async () => {
    const dialog = openDialog("move-dialog");
    const target = dialog.querySelector("select");
    target.replaceChildren(new Option(`${info.name} (top level)`, info.root));
    try {
      const moving = [...selected.values()].filter((m) => m.type === "folder").map((m) => m.path);
      for (const choice of await folderChoices()) {
        // A folder cannot go into itself or one of its own folders.
        if (moving.some((p) => choice.path === p || choice.path.startsWith(p + "."))) continue;
        target.append(new Option(choice.label, choice.path));
      }
    } catch (err) {
      showError(dialog.querySelector(".error"), err.message);
    }
  });
  document.getElementById("move-dialog").addEventListener("close", (event) => {
    const dialog = event.target;
    if (dialog.returnValue !== "ok") return;
    const destinationPath = dialog.querySelector("select").value;
    each((item) => api(`/api/media/${item.id}/move`, { method: "PATCH", body: { destinationPath } }), "Moved");
  });

  document.getElementById("bulk-tag").addEventListener("click", () => {
    const dialog = openDialog("tag-dialog");
    dialog.querySelector("#tag-label").focus();
  });
  document.getElementById("tag-dialog").addEventListener("close", (event) => {
    const dialog = event.target;
    if (dialog.returnValue !== "ok") return;
    const label = dialog.querySelector("#tag-label").value.trim();
    const value = dialog.querySelector("#tag-value").value.trim();
    if (!label || !value) return;
    each((item) => api(`/api/media/${item.id}/tags`, { method: "POST", body: { label, value } }), "Tagged")
      .then(() => loadTagLabels(true));
  });
}

// --- the tag labels of the collection, offered in the filter and tag dialog; asked for only
// when one of those is used (over a big collection it is no small query, and the grid's own
// first page must not wait behind it)
let tagsLoaded = false;
async function loadTagLabels(again = false) {
  if (tagsLoaded && !again) return;
  tagsLoaded = true;
  try {
    const answer = await api(`/api/dataset/${info.dataset}/tags`);
    const list = document.getElementById("tag-labels");
    list.replaceChildren(...Object.keys(answer.tags || {}).sort().map((label) => new Option(label)));
  } catch {
    // Only suggestions: the filter works without them.
  }
}

// --- live badges: while a tile on screen is queued or processing, its page is asked for
// again every few seconds, so the badge goes (and the thumbnail comes) when processing ends.
const PENDING = new Set(["queued", "processing"]);
setInterval(() => {
  if (document.hidden) return;
  const stale = new Set();
  for (const index of drawn.keys()) {
    const status = items[index]?.metadata?.processing?.status;
    if (PENDING.has(status)) stale.add(Math.floor(index / PAGE));
  }
  for (const page of stale) {
    if (pages.get(page)?.settled === false) continue; // still on its way
    pages.delete(page);
    fetchPage(page);
  }
}, 4000);

// --- "N waiting": the collection's items still queued or being processed (GET /api/queue)
const waiting = document.getElementById("waiting");
async function showWaiting() {
  if (document.hidden || !waiting) return;
  try {
    const queue = await api(`/api/queue?datasetId=${info.dataset}`);
    const count = queue.queued + queue.processing;
    waiting.textContent = `· ${count} waiting`;
    waiting.title = `${queue.queued} queued, ${queue.processing} being processed, ${queue.failed} failed`;
    waiting.hidden = count === 0;
  } catch {
    // Only a hint: the page works without it.
  }
}
showWaiting();
setInterval(showWaiting, 4000);

// --- start: wide screens show the folder tree and the filters open
if (window.matchMedia("(min-width: 48rem)").matches) {
  document.getElementById("folders").open = true;
  document.getElementById("filters").open = true;
}
window.addEventListener("scroll", schedule, { passive: true });
window.addEventListener("resize", () => requestAnimationFrame(layout));
new ResizeObserver(() => requestAnimationFrame(layout)).observe(grid.parentElement);
layout();
fetchPage(0);
selectAll.disabled = false;
for (const input of [document.getElementById("tags"), document.getElementById("tag-label")]) {
  input?.addEventListener("focus", () => loadTagLabels(), { once: true });
}
