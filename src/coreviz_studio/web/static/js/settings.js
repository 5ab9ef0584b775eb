// The settings page: API keys (create with a scope, shown once, revoke), members (role,
// remove), invitations (invite, copy the link, cancel). Every change is the API's.
import { api, showError } from "./api.js";

const $ = (id) => document.getElementById(id);

let toastTimer;
function toast(text) {
  const element = $("toast");
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.hidden = true; }, 6000);
}

// Ask before something that cannot be undone; resolves to true when confirmed.
function confirmAction(text, action) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// Copy a text field's value; where the clipboard is refused, leave it selected to copy by hand.
async function copy(input) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    return document.execCommand && document.execCommand("copy");
  }
}

function enable(root) {
  for (const control of root.querySelectorAll("button:disabled, select:disabled")) {
    if (!control.closest("[hidden]")) control.disabled = false;
  }
}

// --- API keys ----------------------------------------------------------------------------
const keysError = $("keys-error");
const create = $("create-key");
if (create) {
  const some = create.querySelector("input[name=scope][value=some]");
  const choices = $("key-collections");
  const sync = () => {
    for (const box of choices.querySelectorAll("input")) box.disabled = !some.checked;
  };
  for (const radio of create.querySelectorAll("input[name=scope]")) radio.addEventListener("change", sync);
  sync();
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: create.name.value.trim(), readOnly: create.readOnly.checked };
    if (create.expiry.value) body.expiresIn = Number(create.expiry.value);
    if (some.checked) {
      body.collections = [...choices.querySelectorAll("input:checked")].map((box) => box.value);
      if (!body.collections.length) {
        showError(keysError, "Choose at least one collection, or every collection.");
        return;
      }
    }
    showError(keysError, "");
    const button = create.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const made = await api("/api/auth/api-key/create", { method: "POST", body });
      create.hidden = true;
      $("new-key").hidden = false;
      $("new-key-value").value = made.key;
      $("new-key-value").select();
    } catch (err) {
      showError(keysError, err.message);
      button.disabled = false;
    }
  });
  $("copy-key").addEventListener("click", async () => {
    if (await copy($("new-key-value"))) $("copied").hidden = false;
  });
  $("key-done").addEventListener("click", () => location.reload());
}

for (const row of document.querySelectorAll("[data-testid=key]")) {
  row.querySelector("button.revoke")?.addEventListener("click", async (event) => {
    const name = event.currentTarget.dataset.name;
    if (!await confirmAction(`Revoke the key "${name}"? Anything using it stops working at once; this cannot be undone.`, "Revoke")) return;
    showError(keysError, "");
    try {
      await api("/api/auth/api-key/delete", { method: "POST", body: { keyId: row.dataset.id } });
      location.reload();
    } catch (err) {
      showError(keysError, err.message);
    }
  });
}

// --- members -----------------------------------------------------------------------------
const membersError = $("members-error");
for (const row of document.querySelectorAll("[data-testid=member]")) {
  const select = row.querySelector("select.role");
  select?.addEventListener("change", async () => {
    showError(membersError, "");
    select.disabled = true;
    try {
      const answer = await api("/api/auth/organization/update-member-role", {
        method: "POST", body: { memberId: row.dataset.id, role: select.value } });
      select.dataset.was = answer.role;
      toast(`${row.dataset.email} is now ${answer.role}.`);
    } catch (err) {
      select.value = select.dataset.was;  // unchanged: say why
      showError(membersError, err.message);
    }
    select.disabled = false;
  });
  const remove = row.querySelector("button.remove");
  remove?.addEventListener("click", async () => {
    const me = remove.dataset.me === "yes";
    const text = me ? "Leave this organization? You lose access to its collections until someone invites you again."
                    : `Remove ${row.dataset.email} from the organization? Their keys and sessions stop working here at once.`;
    if (!await confirmAction(text, me ? "Leave" : "Remove")) return;
    showError(membersError, "");
    try {
      await api("/api/auth/organization/remove-member", {
        method: "POST", body: { memberIdOrEmail: row.dataset.id } });
      if (me) location.assign("/");
      else location.reload();
    } catch (err) {
      showError(membersError, err.message);
    }
  });
}

// --- invitations -------------------------------------------------------------------------
const invitationsError = $("invitations-error");
const invite = $("invite");
invite?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = invite.email.value.trim();
  if (!email) {
    showError(invitationsError, "Enter the email of the person to invite.");
    return;
  }
  showError(invitationsError, "");
  try {
    await api("/api/auth/organization/invite-member", {
      method: "POST", body: { email, role: invite.role.value } });
    location.reload();
  } catch (err) {
    showError(invitationsError, err.message);
  }
});

for (const row of document.querySelectorAll("[data-testid=invitation]")) {
  const link = row.querySelector("input.invitation-link");
  link.value = new URL(link.value, location.origin).href;  // the whole link, to hand over
  row.querySelector("button.copy-link").addEventListener("click", async () => {
    if (await copy(link)) toast("Invitation link copied.");
  });
  row.querySelector("button.cancel-invitation")?.addEventListener("click", async () => {
    if (!await confirmAction(`Cancel the invitation of ${row.querySelector("strong").textContent}? Its link stops working.`, "Cancel invitation")) return;
    showError(invitationsError, "");
    try {
      await api("/api/auth/organization/cancel-invitation", {
        method: "POST", body: { invitationId: row.dataset.id } });
      location.reload();
    } catch (err) {
      showError(invitationsError, err.message);
    }
  });
}

enable(document.querySelector("main"));
