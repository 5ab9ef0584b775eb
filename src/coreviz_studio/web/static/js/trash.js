// A collection's trash: the API's listing a page at a time, restore, and (admins) delete for good.
import { api, showError } from "./api.js";

const list = document.getElementById("trash");
const { dataset, canEdit, admin } = list.dataset;
const error = document.getElementById("trash-error");
const more = document.getElementById("more");
const empty = document.getElementById("trash-empty");
const totalText = document.getElementById("total");
const PAGE = 60;
let offset = 0;
let total = 0;

function toast(text) {
  const element = document.getElementById("toast");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { element.hidden = true; }, 6000);
}

function count(delta = 0) {
  total += delta;
  offset += Math.min(0, delta); // a removed entry no longer counts in the next page's offset
  totalText.textContent = `${total.toLocaleString()} item${total === 1 ? "" : "s"}`;
  empty.hidden = total !== 0;
}

function entry(item) {
  const li = document.createElement("li");
  li.className = "trashed";
  li.dataset.testid = "trashed";
  li.dataset.id = item.id;
  // A trashed item's thumbnail is not served (404 until it is restored): a folder icon or
  // the item's type stands in for it.
  if (item.type === "folder") {
    const img = document.createElement("img");
    img.className = "thumb folder-icon";
    img.alt = "";
    img.src = "/static/folder.svg";
    li.append(img);
  } else {
    const ph = document.createElement("span");
    ph.className = "thumb placeholder";
    ph.textContent = item.type.toUpperCase();
    li.append(ph);
  }
  const body = document.createElement("div");
  body.className = "trashed-body";
  const name = document.createElement("span");
  name.className = "trashed-name";
  name.textContent = item.type === "folder" ? `${item.name} (folder)` : item.name;
  body.append(name);
  const actions = document.createElement("div");
  actions.className = "actions";
  if (canEdit === "true") {
    const restore = document.createElement("button");
    restore.type = "button";
    restore.textContent = "Restore";
    restore.setAttribute("aria-label", `Restore ${item.name}`);
    restore.addEventListener("click", async () => {
      restore.disabled = true;
      try {
        const answer = await api(`/api/media/${item.id}/restore`, { method: "POST" });
        li.remove();
        count(-1);
        const n = answer.restoredCount;
        toast(`Restored ${item.name}${n > 1 ? ` (${n} items)` : ""}.`);
      } catch (err) {
        restore.disabled = false;
        showError(error, err.message);
      }
    });
    actions.append(restore);
  }
  if (admin === "true") {
    const purge = document.createElement("button");
    purge.type = "button";
    purge.className = "danger";
    purge.textContent = "Delete for good";
    purge.setAttribute("aria-label", `Delete ${item.name} for good`);
    purge.addEventListener("click", () => {
      const dialog = document.getElementById("purge-dialog");
      dialog.querySelector(".name-text").textContent = item.name;
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", async () => {
        if (dialog.returnValue !== "ok") return;
        try {
          await api(`/api/media/${item.id}?permanent=true`, { method: "DELETE" });
          li.remove();
          count(-1);
          toast(`Deleted ${item.name} for good.`);
        } catch (err) {
          showError(error, err.message);
        }
      }, { once: true });
    });
    actions.append(purge);
  }
  body.append(actions);
  li.append(body);
  return li;
}

async function load() {
  more.disabled = true;
  try {
    const answer = await api(`/api/dataset/${dataset}/trash?limit=${PAGE}&offset=${offset}`);
    offset += answer.media.length;
    total = answer.pagination.total;
    count();
    list.append(...answer.media.map(entry));
    more.hidden = !answer.pagination.hasMore;
  } catch (err) {
    showError(error, err.message);
  } finally {
    more.disabled = false;
  }
}

more.addEventListener("click", load);
load();
