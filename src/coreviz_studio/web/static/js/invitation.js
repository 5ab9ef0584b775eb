// Accept or decline the invitation the page shows.
import { api, showError } from "./api.js";

const answer = document.getElementById("answer");
const error = document.getElementById("invitation-error");

async function reply(accept) {
  for (const button of answer.querySelectorAll("button")) button.disabled = true;
  showError(error, "");
  try {
    await api(`/api/auth/organization/${accept ? "accept" : "reject"}-invitation`, {
      method: "POST", body: { invitationId: answer.dataset.id } });
    location.assign(accept ? "/" : location.pathname);
  } catch (err) {
    showError(error, err.message);
    for (const button of answer.querySelectorAll("button")) button.disabled = false;
  }
}

if (answer) {
  document.getElementById("accept").addEventListener("click", () => reply(true));
  document.getElementById("reject").addEventListener("click", () => reply(false));
  for (const button of answer.querySelectorAll("button")) button.disabled = false;
}
