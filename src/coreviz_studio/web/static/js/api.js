// The Studio's one way to call the API: same origin, the session cookie, JSON both ways.
// Errors become ApiError with the API's message for a person ({error, message} bodies).

export class ApiError extends Error {
  constructor(message, status, code, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function explain(status, data, retryAfter) {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} seconds.` : " Try again in a moment.";
    return "Too many attempts." + wait;
  }
  if (data && (data.message || data.error_description)) return data.message || data.error_description;
  if (status >= 500) return "The server could not do that right now; try again shortly.";
  return `The request failed (${status}).`;
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("The server cannot be reached; check the connection.", 0);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const retryAfter = response.headers.get("Retry-After");
    throw new ApiError(explain(response.status, data, retryAfter), response.status,
                       data && data.code, retryAfter);
  }
  return data;
}

// Show (or hide, with no text) an error element of the page; text only, never HTML.
export function showError(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

// A path on this server to go to, never another site's (the `next` of sign-in).
export function localTarget(target) {
  try {
    const url = new URL(target || "/", location.origin);
    return url.origin === location.origin ? url.pathname + url.search : "/";
  } catch {
    return "/";
  }
}
