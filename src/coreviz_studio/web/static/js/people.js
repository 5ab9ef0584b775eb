// People and things: crop each cover to its face or object, and name a cluster.
import { api, showError } from "./api.js";

// The cover is the whole frame's thumbnail; show only the box (with a margin) in a square.
// Set through the CSSOM (allowed by the page's CSP, which refuses style attributes).
for (const img of document.querySelectorAll("img[data-crop]")) {
  const [x, y, w, h, frameWidth, frameHeight] = img.dataset.crop.split(",").map(Number);
  if (!(w > 0 && h > 0 && frameWidth > 0 && frameHeight > 0)) continue;
  const side = Math.min(Math.max(w, h) * 1.6, frameWidth, frameHeight);
  const left = Math.min(Math.max(x + w / 2 - side / 2, 0), frameWidth - side);
  const top = Math.min(Math.max(y + h / 2 - side / 2, 0), frameHeight - side);
  img.classList.add("cropped");
  img.style.width = `${(frameWidth / side) * 100}%`;
  img.style.left = `${(-left / side) * 100}%`;
  img.style.top = `${(-top / side) * 100}%`;
}

const error = document.getElementById("people-error");
for (const holder of document.querySelectorAll("[data-testid=cluster], [data-testid=cluster-head]")) {
  const button = holder.querySelector("button.rename-cluster");
  const form = holder.querySelector("form.name-form");
  const title = holder.querySelector(".person-name");
  if (!button || !form) continue;
  const editing = (on) => {
    form.hidden = !on;
    button.hidden = on;
    if (on) form.name.select();
    else button.focus();
  };
  button.addEventListener("click", () => editing(true));
  form.querySelector("button.cancel").addEventListener("click", () => editing(false));
  form.addEventListener("keydown", (event) => { if (event.key === "Escape") editing(false); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.name.value.trim();
    showError(error, "");
    try {
      // An empty name takes the name away (the cluster is unnamed again).
      const answer = await api(`/api/clusters/${holder.dataset.id}`, {
        method: "PATCH", body: { name: name || null } });
      const cluster = answer.cluster;
      const unnamed = cluster.kind === "face" ? "Unnamed person" : (cluster.label || "Unnamed thing");
      title.textContent = cluster.name || unnamed;
      title.classList.toggle("unnamed", !cluster.name && cluster.kind === "face");
      form.name.value = cluster.name || "";
      button.textContent = cluster.name ? "Rename" : (cluster.kind === "face" ? "Name this person" : "Name it");
      holder.querySelector("a.person-link")?.setAttribute("aria-label", title.textContent);
      editing(false);
    } catch (err) {
      showError(error, err.message);
    }
  });
  button.disabled = false;
}
