// Toasts, the confirmation dialog, and a wrapper that turns failures of event handlers into toasts.

import { ApiError } from "./api.js";
import { $, el } from "./dom.js";

/** Shows a short message at the bottom of the page (a click dismisses it). kind: "ok" | "error" | "info". */
export function toast(message, kind = "info") {
  const item = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status",
    title: "Click to dismiss", onclick: () => item.remove() }, message);
  $("#toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Asks a yes/no question in a modal; resolves true when confirmed. */
export function confirmAction(message, confirmLabel) {
  const dialog = $("#confirm-dialog");
  $("[data-confirm-message]", dialog).textContent = message;
  $("[data-confirm-ok]", dialog).textContent = confirmLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** An event handler that reports its failures instead of leaving them unhandled. */
export function guarded(handler) {
  return (...args) => {
    Promise.resolve().then(() => handler(...args)).catch((error) => {
      if (error instanceof ApiError && error.status === 401) return;  // sign-in has taken over
      toast(error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`, "error");
    });
  };
}
