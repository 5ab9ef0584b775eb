// The media view (/m/{id}): the original (a zoomable picture, a video player, a PDF's pages),
// the strip of frames, what processing found in the chosen frame (captions, boxes, text,
// labels, moderation), EXIF, versions, tags, and rename / move / delete. Everything comes from
// and goes through the JSON API (api.js); the page itself only rendered the header.
import { api, showError } from "./api.js";
import { Zoom } from "./zoom.js";

const root = document.getElementById("media");
const mediaId = root.dataset.id;
const datasetId = root.dataset.dataset;
const canEdit = root.dataset.canEdit === "yes";
const $ = (id) => document.getElementById(id);
const error = $("media-error");
const state = $("media-state");
const viewport = $("viewport");
const stage = $("stage");
const picture = $("picture");
const player = $("player");
const video = $("video");
const strip = $("strip");
const showBoxes = $("show-boxes");

let media = null; // the API's media answer
let frames = [];
let current = -1; // index of the chosen frame
let seekingTo = null; // a frame chosen by the person: playback must not move the choice

// ---- small helpers ---------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function toast(text) {
  const element = $("toast");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { element.hidden = true; }, 4000);
}

const percent = (value) => `${Math.round(value * 100)}%`;

function clock(seconds) {
  const s = Number(seconds) || 0;
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  const shown = Number.isInteger(rest) ? String(rest) : rest.toFixed(1);
  return `${m}:${rest < 10 ? "0" : ""}${shown}`;
}

function bytes(n) {
  if (n === null || n === undefined) return null;
  const units = ["bytes", "KB", "MB", "GB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

function frameName(frame, index) {
  if (media.type === "pdf") return `Page ${frame.pageNumber ?? index + 1}`;
  if (media.type === "video") return clock(frame.timestamp);
  return frames.length > 1 ? `Frame ${index + 1}` : "The picture";
}

async function guarded(work) {
  showError(error, "");
  try {
    return await work();
  } catch (err) {
    showError(error, err.message);
    return undefined;
  }
}

// ---- processing state: shown, and followed live until the item is ready -----------------

const STATES = {
  queued: "Queued for processing: what it shows will appear here when it is done.",
  processing: "Processing: frames, captions and boxes are on their way.",
};
let pollDelay = 1000;

function processing() {
  return media?.metadata?.processing?.status || "ready";
}

function showState() {
  const status = processing();
  state.classList.toggle("failed", status === "failed");
  if (status === "failed") {
    const why = media.metadata.processing.error || "no reason was given";
    state.textContent = `Processing failed: ${why}`;
    state.hidden = false;
  } else if (STATES[status]) {
    state.textContent = STATES[status];
    state.hidden = false;
  } else {
    state.hidden = true;
  }
  state.dataset.status = status;
}

function follow() {
  if (!STATES[processing()]) return;
  setTimeout(async () => {
    try {
      const answer = await api(`/api/media/${mediaId}`);
      const was = processing();
      media = answer.media;
      if (processing() !== was || !STATES[processing()]) render();
      else showState();
    } catch (err) {
      if (err.status === 404) { showError(error, "This item was deleted."); return; }
    }
    pollDelay = Math.min(pollDelay * 1.6, 15000);
    follow();
  }, pollDelay);
}

// ---- the original --------------------------------------------------------------------------

const zoom = new Zoom(viewport, stage, (z) => {
  $("zoom-level").textContent = `${Math.round(z.relative * 100)}%`;
});
$("zoom-in").addEventListener("click", () => zoom.zoomAt(1.25));
$("zoom-out").addEventListener("click", () => zoom.zoomAt(0.8));
$("zoom-fit").addEventListener("click", () => zoom.fit());
picture.addEventListener("load", () => {
  zoom.setSize(picture.naturalWidth, picture.naturalHeight);
  viewport.dataset.loaded = picture.currentSrc;
});
picture.addEventListener("error", () => showError(error, "The picture could not be loaded."));

function showPicture(src, alt) {
  if (!src) return;
  picture.alt = alt;
  if (picture.getAttribute("src") !== src) {
    delete viewport.dataset.loaded;
    picture.src = src;
  }
}

function renderOriginal() {
  const pictureMode = media.type !== "video";
  viewport.hidden = !pictureMode;
  player.hidden = pictureMode;
  $("zoom-tools").hidden = !pictureMode;
  for (const id of ["zoom-in", "zoom-out", "zoom-fit"]) $(id).disabled = !pictureMode;
  if (media.type === "image") {
    showPicture(media.blob, media.name);
  } else if (media.type === "video") {
    if (media.blob && video.getAttribute("src") !== media.blob) video.src = media.blob;
    const [w, h] = [media.width || frames[0]?.width || 16, media.height || frames[0]?.height || 9];
    // The player has the video's own shape (no letterbox), so the boxes over it line up.
    player.style.aspectRatio = `${w} / ${h}`;
    player.style.maxWidth = `calc(70vh * ${w / h})`;
  }
  $("no-picture").hidden = !(media.type === "pdf" && frames.length === 0);
  if (media.type === "pdf" && frames.length === 0) viewport.hidden = true;
}

// ---- frames: the strip, the choice, and the URL that opens one --------------------------

function renderStrip() {
  strip.replaceChildren();
  strip.hidden = frames.length < 2;
  frames.forEach((frame, index) => {
    const name = frameName(frame, index);
    const thumb = frame.thumbnailBlob
      ? el("img", { src: frame.thumbnailBlob, alt: "", loading: "lazy" })
      : el("span", { class: "no-thumb", "aria-hidden": "true" });
    strip.append(el("li", {},
      el("button", { type: "button", class: "frame", "data-testid": "frame", "data-index": index,
                     "aria-pressed": "false", onclick: () => choose(index, { seek: true, remember: true }) },
         thumb, el("span", { class: "frame-name", text: name }))));
  });
  const pages = $("page-select");
  $("page-tools").hidden = media.type !== "pdf" || frames.length === 0;
  pages.replaceChildren(...frames.map((frame, index) =>
    el("option", { value: String(index), text: String(frame.pageNumber ?? index + 1) })));
  // (Values are indexes into the frames; what a person reads is the page's number.)
  $("page-count").textContent = `of ${frames.length}`;
  pages.disabled = frames.length < 2;
}

$("page-select").addEventListener("change", (e) => choose(Number(e.target.value), { remember: true }));
$("page-prev").addEventListener("click", () => choose(current - 1, { remember: true }));
$("page-next").addEventListener("click", () => choose(current + 1, { remember: true }));

function choose(index, { seek = false, remember = false, at = null } = {}) {
  if (index < 0 || index >= frames.length) return;
  current = index;
  const frame = frames[index];
  for (const button of strip.querySelectorAll("button.frame")) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.index) === index));
  }
  // Bring the chosen frame into the strip's view (the strip only: the page does not move).
  const chosen = strip.querySelector(`[data-index="${index}"]`);
  if (chosen && !strip.hidden) {
    const left = chosen.offsetLeft; // the strip is its offsetParent
    if (left < strip.scrollLeft || left + chosen.offsetWidth > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = left - (strip.clientWidth - chosen.offsetWidth) / 2;
    }
  }
  if (media.type === "pdf") {
    showPicture(frame.blob, `${media.name}, ${frameName(frame, index)}`);
    $("page-select").value = String(index);
    $("page-prev").disabled = index === 0;
    $("page-next").disabled = index === frames.length - 1;
  }
  if (media.type === "video" && seek) {
    const time = at ?? (Number(frame.timestamp) || 0);
    video.pause();
    if (Math.abs(video.currentTime - time) > 0.001) {
      seekingTo = index;
      video.currentTime = time;
    }
  }
  $("frame-where").textContent = frames.length > 1 ? `(${frameName(frame, index)})` : "";
  renderBoxes();
  renderAnalysis();
  if (remember) {
    const url = new URL(location.href);
    for (const key of ["frame", "t", "page"]) url.searchParams.delete(key);
    url.searchParams.set("frame", frame.id);
    history.replaceState(null, "", url);
  }
}

// The frame a time of the video falls in: the last one starting at or before it.
function frameAt(time) {
  let found = 0;
  frames.forEach((frame, index) => { if (Number(frame.timestamp) <= time + 0.001) found = index; });
  return found;
}

video.addEventListener("play", () => { seekingTo = null; player.classList.add("playing"); });
video.addEventListener("pause", () => player.classList.remove("playing"));
video.addEventListener("seeked", () => {
  if (seekingTo !== null) { seekingTo = null; return; }
  const index = frameAt(video.currentTime);
  if (index !== current) choose(index);
});
video.addEventListener("timeupdate", () => {
  if (video.paused || seekingTo !== null || !frames.length) return;
  const index = frameAt(video.currentTime);
  if (index !== current) choose(index);
});

// Which frame the URL asks for: ?frame=<id>, ?t=<seconds> (a video) or ?page=<n> (a PDF).
function wanted() {
  const params = new URLSearchParams(location.search);
  const id = params.get("frame");
  if (id) {
    const index = frames.findIndex((f) => f.id === id || f.id.replaceAll("-", "") === id.replaceAll("-", ""));
    if (index >= 0) return { index };
    toast("That frame is not part of this item; showing the first one.");
  }
  const t = params.get("t");
  if (t !== null && Number.isFinite(Number(t)) && Number(t) >= 0) {
    return { index: frameAt(Number(t)), at: Number(t) };
  }
  const page = params.get("page");
  if (page !== null) {
    const index = frames.findIndex((f) => String(f.pageNumber) === page.trim());
    if (index >= 0) return { index };
    toast(`There is no page ${page.slice(0, 20)}; showing the first one.`);
  }
  return { index: 0 };
}

// ---- boxes over the frame ------------------------------------------------------------------

const KINDS = { face: "face", object: "object", text: "text" };

function boxLabel(object) {
  const confidence = typeof object.confidence === "number" ? ` ${percent(object.confidence)}` : "";
  return `${object.label || object.type}${confidence}`;
}

function renderBoxes() {
  const layer = media.type === "video" ? $("player-boxes") : $("stage-boxes");
  $("stage-boxes").replaceChildren();
  $("player-boxes").replaceChildren();
  const frame = frames[current];
  if (!frame || !showBoxes.checked) return;
  const fw = frame.width || media.width;
  const fh = frame.height || media.height;
  if (!fw || !fh) return;
  // The biggest first, so a smaller box drawn over it (a face inside a person) stays reachable.
  const area = (o) => (o.bbox ? o.bbox.width * o.bbox.height : 0);
  const ordered = [...(frame.objects || [])].sort((a, b) => area(b) - area(a));
  for (const object of ordered) {
    const { x, y, width, height } = object.bbox || {};
    if (![x, y, width, height].every(Number.isFinite)) continue;
    const label = boxLabel(object);
    const kind = KINDS[object.type] || "other";
    const below = y / fh < 0.08; // no room above the box: its label goes inside it
    const box = el("button", { type: "button", class: `box ${kind}${below ? " label-inside" : ""}`, "data-testid": "box",
                               "data-id": object.id, "aria-label": `${object.type}: ${label}` },
                   el("span", { class: "box-label", "data-testid": "box-label", text: label }));
    box.style.left = `${(x / fw) * 100}%`;
    box.style.top = `${(y / fh) * 100}%`;
    box.style.width = `${(width / fw) * 100}%`;
    box.style.height = `${(height / fh) * 100}%`;
    box.addEventListener("click", () => highlight(object.id));
    layer.append(box);
  }
}

function highlight(objectId) {
  for (const node of document.querySelectorAll("[data-object]")) {
    node.classList.toggle("lit", node.dataset.object === objectId);
  }
  for (const node of document.querySelectorAll(".box")) {
    node.classList.toggle("lit", node.dataset.id === objectId);
  }
}

showBoxes.addEventListener("change", renderBoxes);

// Over a video the boxes let the pointer through (the player's controls stay usable under
// them); the box under the pointer is found here and shows its label.
function hoverBoxes(event) {
  let hit = null;
  let area = Infinity;
  for (const box of player.querySelectorAll(".box")) {
    const r = box.getBoundingClientRect();
    const inside = event && event.clientX >= r.left && event.clientX <= r.right
                   && event.clientY >= r.top && event.clientY <= r.bottom;
    if (inside && r.width * r.height < area) { hit = box; area = r.width * r.height; }
  }
  for (const box of player.querySelectorAll(".box")) box.classList.toggle("hover", box === hit);
}
player.addEventListener("pointermove", hoverBoxes);
player.addEventListener("pointerleave", () => hoverBoxes(null));

// ---- what processing found in the chosen frame ---------------------------------------------

function section(title, ...content) {
  return el("div", { class: "fact" }, el("h3", { text: title }), ...content);
}

function objectNote(o) {
  const parts = [];
  if (o.label && o.label !== o.type) parts.push(o.type);
  if (typeof o.confidence === "number") parts.push(percent(o.confidence));
  if (o.model) parts.push(o.model);
  return parts.length ? ` ${parts.join(" · ")}` : "";
}

function renderAnalysis() {
  const out = $("analysis");
  out.replaceChildren();
  const frame = frames[current];
  if (!frame) {
    out.append(el("p", { class: "muted", text: STATES[processing()] ? "Not yet: processing is under way."
                                                       : "Processing found no frames in this item." }));
  } else {
    const captions = frame.captions || [];
    out.append(section("Caption", captions.length
      ? el("ul", { class: "captions", "data-testid": "captions" }, captions.map((c) =>
          el("li", {}, el("p", { text: c.text }), el("p", { class: "muted model", text: `by ${c.model}` }))))
      : el("p", { class: "muted", text: "No caption." })));

    const found = (frame.objects || []).filter((o) => o.type !== "text");
    out.append(section("Objects and faces", found.length
      ? el("ul", { class: "objects", "data-testid": "objects" }, found.map((o) =>
          el("li", { "data-object": o.id },
             el("button", { type: "button", class: "link", onclick: () => highlight(o.id),
                            text: `${o.label || o.type}` }),
             el("span", { class: "muted", text: objectNote(o) }))))
      : el("p", { class: "muted", text: "None found." })));

    const lines = (frame.objects || []).filter((o) => o.type === "text").map((o) => o.label);
    const text = frame.text || lines.join("\n");
    out.append(section("Text read", text
      ? el("pre", { class: "ocr", "data-testid": "ocr", text })
      : el("p", { class: "muted", text: "No text found." })));

    const labels = (frame.metadata?.labels || []).slice(0, 8);
    out.append(section("Labels", labels.length
      ? el("ul", { class: "chips", "data-testid": "labels" }, labels.map((l) =>
          el("li", { class: "chip", text: `${l.name}${typeof l.score === "number" ? ` ${percent(l.score)}` : ""}` })))
      : el("p", { class: "muted", text: "No labels." })));
  }
  const moderation = media.metadata?.moderation;
  out.append(section("Moderation", moderation
    ? el("p", { "data-testid": "moderation", class: `moderation ${moderation.status}` },
         moderation.status, moderation.categories?.length ? ` (${moderation.categories.join(", ")})` : "")
    : el("p", { class: "muted", text: "Not checked yet." })));
}

// ---- details and EXIF ----------------------------------------------------------------------

function renderDetails() {
  const rows = [
    ["Type", media.type.toUpperCase() === "PDF" ? "PDF" : media.type],
    ["Size", bytes(media.sizeBytes)],
    ["Dimensions", media.width && media.height ? `${media.width} × ${media.height}` : null],
    ["Duration", media.duration ? clock(media.duration) : null],
    ["Pages", media.pageCount],
    ["File type", media.mimeType],
    ["Added", media.createdAt ? new Date(media.createdAt).toLocaleString() : null],
    ["Version", media.versionNumber ? `${media.versionNumber}${media.isActiveVersion ? " (active)" : ""}` : null],
  ];
  $("details").replaceChildren(...rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  const tags = media.exif?.tags || {};
  const entries = Object.entries(tags).filter(([, v]) => v !== null && typeof v !== "object");
  $("exif").replaceChildren(...(entries.length
    ? entries.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])
    : [el("dd", { class: "muted", text: "No EXIF data in this file." })]));
}

// ---- tags ----------------------------------------------------------------------------------

function renderTags(tags) {
  const box = $("tags");
  box.replaceChildren();
  const groups = Object.entries(tags || {});
  if (!groups.length) box.append(el("p", { class: "muted", text: "No tags yet." }));
  for (const [label, values] of groups) {
    const title = el("span", { class: "group-name", text: label });
    const rename = el("form", { class: "inline rename-group", hidden: true },
      el("label", { class: "visually-hidden", for: `g-${label}`, text: `New name of the group ${label}` }),
      el("input", { id: `g-${label}`, name: "label", value: label, maxlength: "1000", required: true }),
      el("button", { type: "submit", class: "primary", text: "Save" }),
      el("button", { type: "button", class: "cancel", text: "Cancel" }));
    const group = el("div", { class: "tag-group", "data-testid": "tag-group", "data-label": label },
      el("div", { class: "group-head" }, title,
         canEdit ? el("button", { type: "button", class: "link", text: "Rename group",
                                  "aria-label": `Rename the group ${label}`,
                                  onclick: () => { rename.hidden = false; rename.label.select(); } }) : null),
      canEdit ? rename : null,
      el("ul", { class: "chips" }, values.map((value) => el("li", { class: "chip", "data-testid": "tag" },
        el("span", { text: value }),
        canEdit ? el("button", { type: "button", class: "remove", text: "×",
                                 "aria-label": `Remove the tag ${label}: ${value}`,
                                 onclick: () => tagCall("DELETE", { label, value }) }) : null))));
    rename.querySelector(".cancel").addEventListener("click", () => { rename.hidden = true; });
    rename.addEventListener("submit", (event) => {
      event.preventDefault();
      const newLabel = rename.label.value.trim();
      if (!newLabel) { showError(error, "A tag group needs a name."); return; }
      if (newLabel !== label) tagCall("PATCH", { oldLabel: label, newLabel });
      else rename.hidden = true;
    });
    box.append(group);
  }
}

async function tagCall(method, body) {
  const answer = await guarded(() => api(`/api/media/${mediaId}/tags`, { method, body }));
  if (answer) {
    media.metadata = { ...media.metadata, tags: answer.tags };
    renderTags(answer.tags);
  }
  return answer;
}

const addTag = $("add-tag");
addTag.addEventListener("submit", async (event) => {
  event.preventDefault();
  const label = addTag.label.value.trim();
  const value = addTag.value.value.trim();
  if (!label || !value) { showError(error, "A tag needs a group and a value."); return; }
  if (await tagCall("POST", { label, value })) {
    addTag.value.value = "";
    addTag.value.focus();
  }
});

async function suggestGroups() {
  try {
    const answer = await api(`/api/dataset/${datasetId}/tags`);
    $("tag-groups").replaceChildren(...Object.keys(answer.tags || {}).map((l) => el("option", { value: l })));
  } catch { /* suggestions only */ }
}

// ---- versions ------------------------------------------------------------------------------

async function renderVersions() {
  const list = $("versions");
  let versions;
  try {
    versions = (await api(`/api/media/${mediaId}/versions`)).versions;
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
    return;
  }
  versions.sort((a, b) => b.versionNumber - a.versionNumber);
  const group = versions[0]?.rootId || mediaId;
  list.replaceChildren(...versions.map((v) => {
    const viewing = v.id === mediaId;
    const when = v.createdAt ? new Date(v.createdAt).toLocaleString() : "";
    return el("li", { class: `version${viewing ? " viewing" : ""}`, "data-testid": "version", "data-id": v.id },
      el("div", {},
         el("strong", { text: `Version ${v.versionNumber}` }),
         v.isActiveVersion ? el("span", { class: "badge", text: "active" }) : null,
         viewing ? el("span", { class: "badge muted-badge", text: "shown" }) : null,
         el("div", { class: "muted small", text: `${v.name} · ${when}` })),
      el("div", { class: "version-actions" },
         viewing ? null : el("a", { href: `/m/${v.id}`, text: "View", "aria-label": `View version ${v.versionNumber}` }),
         canEdit && !v.isActiveVersion ? el("button", { type: "button", class: "link", text: "Make active",
           "aria-label": `Make version ${v.versionNumber} the active one`,
           onclick: () => selectVersion(v) }) : null,
         canEdit ? el("button", { type: "button", class: "link danger-link", text: "Delete",
           "aria-label": `Delete version ${v.versionNumber}`,
           onclick: () => deleteVersion(group, v, versions.length) }) : null));
  }));
}

async function selectVersion(version) {
  const answer = await guarded(() => api(`/api/media/${version.id}/select-version`, { method: "PATCH" }));
  if (!answer) return;
  toast(`Version ${version.versionNumber} is now the active one.`);
  if (version.id === mediaId) { media = answer.media; renderDetails(); }
  await renderVersions();
}

async function deleteVersion(group, version, count) {
  const last = count === 1;
  if (!confirm(last ? `Delete version ${version.versionNumber}? It is the only one: the item goes with it.`
                    : `Delete version ${version.versionNumber}?`)) return;
  const answer = await guarded(() => api(
    `/api/media/${group}/versions?versionId=${encodeURIComponent(version.id)}`, { method: "DELETE" }));
  if (!answer) return;
  if (version.id !== mediaId) {
    toast(`Version ${version.versionNumber} was deleted.`);
    await renderVersions();
    return;
  }
  // The version on screen is gone: show the one that took over, or go back.
  const next = answer.promotedId || (last ? null : group !== mediaId ? group : null);
  location.assign(next ? `/m/${next}` : root.dataset.back);
}

// ---- rename, move, delete -----------------------------------------------------------------

const rename = $("rename");
rename.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = rename.name.value.trim();
  if (!name) { showError(error, "An item needs a name."); return; }
  const answer = await guarded(() => api(`/api/media/${mediaId}`, { method: "PATCH", body: { name } }));
  if (!answer) return;
  media = answer.media;
  $("media-name").textContent = media.name;
  document.querySelector(".crumbs [aria-current]").textContent = media.name;
  document.title = `${media.name} · CoreViz Studio`;
  rename.name.value = media.name;
  toast("Renamed.");
});

async function loadFolders() {
  const select = $("move-to");
  const folders = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`/api/dataset/${datasetId}/media?type=folder&recursive=true&limit=1000&offset=${offset}&sortBy=name`);
    folders.push(...page.media);
    if (!page.pagination.hasMore || offset > 20000) break;
  }
  const names = new Map(folders.map((f) => [f.id.replaceAll("-", ""), f.name]));
  const shown = (path) => path.split(".").slice(1).map((label) => names.get(label) || "…").join(" / ");
  const here = media.path.split(".").slice(0, -1).join(".");
  const rootPath = datasetId.replaceAll("-", "");
  const choices = [{ path: rootPath, name: "The collection's top level" },
                   ...folders.map((f) => ({ path: f.path, name: shown(f.path) }))
                     .sort((a, b) => a.name.localeCompare(b.name))];
  select.replaceChildren(el("option", { value: "", text: "Move to…" }),
    ...choices.map((c) => el("option", { value: c.path, text: c.name, disabled: c.path === here })));
}

const move = $("move");
move.addEventListener("submit", async (event) => {
  event.preventDefault();
  const destinationPath = move.to.value;
  if (!destinationPath) { showError(error, "Choose the folder to move it to."); return; }
  const answer = await guarded(() => api(`/api/media/${mediaId}/move`, { method: "PATCH", body: { destinationPath } }));
  if (answer) location.reload(); // the breadcrumbs and the way back are the server's
});

$("delete").addEventListener("click", async () => {
  if (!confirm(`Move “${media.name}” to the trash?`)) return;
  const answer = await guarded(() => api(`/api/media/${mediaId}`, { method: "DELETE" }));
  if (answer) location.assign(root.dataset.back);
});

// ---- keyboard: the arrows step through frames (when the picture is not zoomed in), Escape
// goes back to the folder ---------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, select, textarea, video, form")) return;
  if (event.key === "Escape" && !document.querySelector("details.menu[open]")) {
    location.assign(root.dataset.back); // back to the folder, as the grid's Enter came here
    return;
  }
  if (target !== viewport && target !== document.body && !target.closest?.(".strip")) return;
  if (event.key === "ArrowRight" || event.key === "PageDown") choose(current + 1, { seek: true, remember: true });
  else if (event.key === "ArrowLeft" || event.key === "PageUp") choose(current - 1, { seek: true, remember: true });
  else return;
  event.preventDefault();
  if (target.closest?.(".strip")) strip.querySelector(`[data-index="${current}"]`)?.focus();
});

// ---- the whole page ------------------------------------------------------------------------

function render() {
  frames = media.frames || [];
  showState();
  renderOriginal();
  renderStrip();
  renderDetails();
  renderTags(media.metadata?.tags);
  const { index, at } = wanted();
  choose(Math.min(index, Math.max(frames.length - 1, 0)), { seek: true, at });
  if (!frames.length) renderAnalysis();
  root.dataset.ready = processing();
}

async function start() {
  try {
    media = (await api(`/api/media/${mediaId}`)).media;
  } catch (err) {
    showError(error, err.message);
    return;
  }
  render();
  follow();
  showBoxes.disabled = false;
  renderVersions();
  if (canEdit) {
    $("edit").hidden = false;
    addTag.hidden = false;
    for (const button of document.querySelectorAll("#edit button, #add-tag button")) button.disabled = false;
    $("move-to").disabled = false;
    suggestGroups();
    guarded(loadFolders);
  }
}

start();
