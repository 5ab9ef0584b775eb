// The sign-in form: the API's email sign-in sets the session cookie, then we go where we were.
import { api, localTarget, showError } from "./api.js";

const form = document.getElementById("sign-in");
const error = document.getElementById("sign-in-error");

form.querySelector("button[type=submit]").disabled = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) {
    showError(error, "Enter your email and your password.");
    return;
  }
  button.disabled = true;
  showError(error, "");
  try {
    await api("/api/auth/sign-in/email", { method: "POST", body: { email, password } });
    location.assign(localTarget(form.dataset.next));
  } catch (err) {
    showError(error, err.status === 401 ? "Wrong email or password." : err.message);
    form.password.select();
    button.disabled = false;
  }
});
