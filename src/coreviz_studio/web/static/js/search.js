// The search page (templates/search.html): asks the API for scored results and shows them,
// best first, each with its score, the frame that matched (a video's moment, a PDF's page) and
// links to the media view there; a slider hides results under a score (kept in the URL as
// `min`); "find similar" from a result's faces and objects.
//   q in one collection:  GET /api/dataset/{id}/media?q=...        (_score, matchedFrame)
//   q everywhere:         GET /api/search?q=...                    (rank, matchedFrame)
//   similar to an object: the same two with similarToObjectId (and similarToObjectModel)
import { api, showError } from "./api.js";

const LIMIT = 100;
const list = document.getElementById("results");
const slider = document.getElementById("min-score");
const shown = document.getElementById("min-score-value");
const summary = document.getElementById("search-summary");
const error = document.getElementById("search-error");
const params = new URLSearchParams(location.search);
const { q, dataset, similar, model, missing } = list.dataset;
const names = new Map([...document.querySelectorAll("#search-dataset option")]
  .filter((o) => o.value).map((o) => [o.value, o.textContent]));

export function clock(seconds) {
  const total = Math.floor(Number(seconds) || 0);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

// One shape for both answers: {id, name, type, datasetId, thumbnail, score, frame, objects, caption}.
function fromBrowse(media) {
  const matched = media.matchedFrame || null;
  const frame = matched && (media.frames || []).find((f) => f.id === matched.id);
  return {
    id: media.id, name: media.name, type: media.type, datasetId: media.datasetId,
    thumbnail: media.thumbnail, score: media._score, frame: matched,
    objects: frame ? frame.objects || [] : [],
    caption: frame && frame.captions && frame.captions[0] ? frame.captions[0].text : "",
  };
}

function fromSearch(hit) {
  return {
    id: hit.media.id, name: hit.media.name, type: hit.media.type, datasetId: hit.media.datasetId,
    thumbnail: hit.thumbnail, score: hit.rank, frame: hit.matchedFrame || (hit.frameId ? { id: hit.frameId } : null),
    objects: hit.objects || [], caption: hit.captions && hit.captions[0] ? hit.captions[0].text : "",
  };
}

// Where the media view opens: the frame, and a video's moment or a PDF's page.
function mediaLink(result) {
  const query = new URLSearchParams();
  const frame = result.frame;
  if (frame && frame.id) query.set("frame", frame.id);
  if (frame && result.type === "video" && frame.timestamp !== undefined) query.set("t", String(Number(frame.timestamp)));
  if (frame && result.type === "pdf" && frame.pageNumber) query.set("page", String(frame.pageNumber));
  const tail = query.toString();
  return `/m/${result.id}${tail ? `?${tail}` : ""}`;
}

function where(result) {
  const frame = result.frame;
  if (frame && result.type === "video" && frame.timestamp !== undefined) return `at ${clock(frame.timestamp)}`;
  if (frame && result.type === "pdf" && frame.pageNumber) return `page ${frame.pageNumber}`;
  return "";
}

function similarLink(object) {
  const query = new URLSearchParams({ similar: object.id, model: object.type === "face" ? "faces" : "objects",
    label: object.type === "face" ? "this face" : `this ${object.label || "object"}` });
  if (dataset) query.set("dataset", dataset); // stay in this collection, else all of them
  return `/search?${query}`;
}

function card(result) {
  const li = document.createElement("li");
  li.className = "result";
  li.dataset.testid = "result";
  li.dataset.score = String(result.score);
  li.dataset.mediaId = result.id;
  const link = document.createElement("a");
  link.className = "result-open";
  link.href = mediaLink(result);
  const img = document.createElement("img");
  img.className = "result-thumb";
  img.alt = "";
  img.loading = "lazy";
  // A video's or a PDF's result shows the moment or page that matched; an image its thumbnail.
  const moment = result.type !== "image" && result.frame && result.frame.thumbnailBlob;
  const picture = moment || result.thumbnail;
  img.src = picture || "/static/placeholder.svg";
  if (!picture) img.classList.add("placeholder");
  const name = document.createElement("span");
  name.className = "result-name";
  name.textContent = result.name;
  link.append(img, name);
  const facts = document.createElement("p");
  facts.className = "result-facts";
  const score = document.createElement("span");
  score.className = "score";
  score.dataset.testid = "score";
  score.title = "Relevance score (higher is better)";
  score.textContent = Number(result.score).toFixed(3);
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = 1;
  meter.value = Math.max(0, Math.min(1, Number(result.score)));
  meter.setAttribute("aria-label", "Score");
  facts.append(score, meter);
  const kind = document.createElement("span");
  kind.className = "muted";
  kind.textContent = [result.type, where(result)].filter(Boolean).join(" · ");
  kind.dataset.testid = "matched";
  facts.append(kind);
  if (!dataset && result.datasetId && names.has(result.datasetId)) {
    const from = document.createElement("span");
    from.className = "muted";
    from.textContent = `in ${names.get(result.datasetId)}`;
    facts.append(from);
  }
  li.append(link, facts);
  if (result.caption) {
    const caption = document.createElement("p");
    caption.className = "result-caption muted";
    caption.textContent = result.caption;
    li.append(caption);
  }
  const seen = new Set();
  const similarFrom = result.objects.filter((o) => (o.type === "face" || o.type === "object") && o.id)
    .filter((o) => {
      const key = `${o.type}:${o.label}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }).slice(0, 4);
  if (similarFrom.length) {
    const row = document.createElement("p");
    row.className = "result-similar";
    row.append("Find similar: ");
    for (const object of similarFrom) {
      const a = document.createElement("a");
      a.href = similarLink(object);
      a.className = "chip";
      a.dataset.testid = "find-similar";
      a.textContent = object.type === "face" ? "face" : object.label || "object";
      row.append(a, " ");
    }
    li.append(row);
  }
  return li;
}

function cutoff() {
  const min = Number(slider.value);
  shown.textContent = min.toFixed(2);
  let visible = 0;
  const items = [...list.children];
  for (const li of items) {
    li.hidden = Number(li.dataset.score) < min;
    if (!li.hidden) visible += 1;
  }
  const hidden = items.length - visible;
  if (!items.length) return;
  summary.textContent = `${items.length} result${items.length === 1 ? "" : "s"}` +
    (dataset ? "" : " in all collections") + (hidden ? `; ${hidden} scoring under ${min.toFixed(2)} hidden` : "");
  const url = new URL(location.href);
  if (min > 0) url.searchParams.set("min", min.toFixed(2));
  else url.searchParams.delete("min");
  history.replaceState(null, "", url);
}

async function run() {
  if (missing) return;
  if (!q.trim() && !similar) {
    summary.textContent = "Type what you are looking for: words, a place, what is in the picture, text in it.";
    return;
  }
  summary.textContent = "Searching…";
  const query = new URLSearchParams({ limit: String(LIMIT) });
  if (similar) {
    query.set("similarToObjectId", similar);
    if (model) query.set("similarToObjectModel", model);
  } else {
    query.set("q", q);
  }
  let results;
  try {
    if (dataset) {
      results = (await api(`/api/dataset/${dataset}/media?${query}`)).media.map(fromBrowse);
    } else {
      results = (await api(`/api/search?${query}`)).results.map(fromSearch);
    }
  } catch (err) {
    summary.textContent = "";
    showError(error, err.message);
    return;
  }
  list.replaceChildren(...results.map(card));
  if (!results.length) {
    summary.textContent = similar ? "Nothing else looks like it." : "Nothing matched. Try other words, or search all collections.";
    return;
  }
  slider.disabled = false;
  cutoff();
}

const start = Number(params.get("min"));
if (Number.isFinite(start) && start > 0 && start <= 1) slider.value = String(start);
shown.textContent = Number(slider.value).toFixed(2);
slider.addEventListener("input", cutoff);
// Words typed in "find similar" mode start a word search instead.
document.querySelector(".search-form").addEventListener("submit", (event) => {
  const words = event.target.q.value.trim();
  for (const input of event.target.querySelectorAll(".similar-mode")) input.disabled = Boolean(words);
});
run();
