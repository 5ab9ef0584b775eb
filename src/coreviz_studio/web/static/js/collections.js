// Create and rename collections (the API's datasets), then show the result.
import { api, showError } from "./api.js";

const error = document.getElementById("collections-error");

const create = document.getElementById("create-collection");
if (create) create.querySelector("button[type=submit]").disabled = false;
create?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = create.name.value.trim();
  if (!name) {
    showError(error, "Give the new collection a name.");
    return;
  }
  showError(error, "");
  try {
    await api(`/api/organization/${create.dataset.org}/datasets`, { method: "POST", body: { name } });
    location.reload();
  } catch (err) {
    showError(error, err.message);
  }
});

for (const card of document.querySelectorAll("[data-testid=collection]")) {
  const button = card.querySelector("button.rename");
  const form = card.querySelector("form.rename-form");
  const title = card.querySelector(".collection-name");
  if (!button || !form) continue;
  const editing = (on) => {
    form.hidden = !on;
    button.hidden = on;
    if (on) form.name.select();
  };
  button.addEventListener("click", () => editing(true));
  button.disabled = false;
  form.querySelector("button.cancel").addEventListener("click", () => editing(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.name.value.trim();
    if (!name) {
      showError(error, "A collection needs a name.");
      return;
    }
    showError(error, "");
    try {
      const answer = await api(`/api/dataset/${card.dataset.id}`, { method: "PATCH", body: { name } });
      title.textContent = answer.dataset.name;
      form.name.value = answer.dataset.name;
      editing(false);
    } catch (err) {
      showError(error, err.message);
    }
  });
}
