// Sign-in: asks for an API key, checks it with /whoami, keeps it in sessionStorage.

import { ApiError, request, session } from "./api.js";
import { $ } from "./dom.js";
import { guarded } from "./notify.js";

const view = () => $("#signin");
const form = () => $("#signin-form");

function showError(message) {
  const error = $("[data-signin-error]", form());
  error.textContent = message;
  error.hidden = !message;
}

/** Wires the form once; `onSignedIn(who)` runs after a key is accepted. */
export function setUpSignIn(onSignedIn) {
  form().addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const key = form().elements.key.value.trim();
    if (!key) {
      showError("Enter an API key.");
      return;
    }
    try {
      const who = await request("GET", "/whoami", { key });
      session.save(key);
      form().reset();
      showError("");
      onSignedIn(who);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      showError("That key was not accepted. Check it and try again.");
    }
  }));
}

/** Shows the sign-in view, with an optional reason (for example after a 401). */
export function showSignIn(message = "") {
  session.clear();
  $("#app").hidden = true;
  view().hidden = false;
  showError(message);
  form().elements.key.focus();
}

export function hideSignIn() {
  view().hidden = true;
  $("#app").hidden = false;
}
