// The header of every signed-in page: switch organization, sign out.
import { api } from "./api.js";

function toast(text) {
  const element = document.getElementById("toast");
  element.textContent = text;
  element.hidden = false;
}

const signOut = document.getElementById("sign-out");
if (signOut) signOut.disabled = false;
signOut?.addEventListener("click", async () => {
  signOut.disabled = true;
  try {
    await api("/api/auth/sign-out", { method: "POST" });
  } catch (err) {
    // The session may already be gone (expired, revoked): signed out all the same.
    if (err.status !== 401) {
      toast(err.message);
      signOut.disabled = false;
      return;
    }
  }
  location.assign("/sign-in");
});

const switcher = document.getElementById("org-switch");
if (switcher) switcher.disabled = false;
switcher?.addEventListener("change", async () => {
  switcher.disabled = true;
  try {
    await api("/api/auth/organization/set-active", {
      method: "POST", body: { organizationId: switcher.value } });
    location.assign("/");
  } catch (err) {
    toast(err.message);
    switcher.disabled = false;
  }
});

// Close the account menu when clicking elsewhere.
const menu = document.querySelector("details.menu");
document.addEventListener("click", (event) => {
  if (menu?.open && !menu.contains(event.target)) menu.open = false;
});
