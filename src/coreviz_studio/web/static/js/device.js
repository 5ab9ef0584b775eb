// Approve or deny a device login (RFC 8628); signing in happens on the same page (sign-in.js).
import { api, showError } from "./api.js";

const form = document.getElementById("decide");
if (form) {
  const error = document.getElementById("device-error");
  const done = document.getElementById("device-done");

  const decide = async (approve) => {
    const userCode = form.code.value.trim().toUpperCase();
    if (!userCode) {
      showError(error, "Enter the code your device shows.");
      return;
    }
    showError(error, "");
    try {
      await api(`/api/auth/device?user_code=${encodeURIComponent(userCode)}`);
      await api(`/api/auth/device/${approve ? "approve" : "deny"}`, { method: "POST", body: { userCode } });
      form.hidden = true;
      done.textContent = approve ? "Approved. You can go back to your device."
                                 : "Denied. The device was not connected.";
      done.hidden = false;
    } catch (err) {
      showError(error, err.message);
    }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); decide(true); });
  document.getElementById("deny").addEventListener("click", () => decide(false));
  for (const button of form.querySelectorAll("button")) button.disabled = false;
}
