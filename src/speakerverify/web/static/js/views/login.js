// Log in / register: the two forms, the data statement the user consents to, and the server's
// field errors shown next to their fields.

import { api, ApiError, session } from "../api.js";
import { $, clear, h } from "../dom.js";
import { describe, guard } from "../ui.js";

/** @typedef {import("../types.js").DataStatement} DataStatement */
/** @typedef {import("../types.js").FieldError} FieldError */
/** @typedef {import("../types.js").Token} Token */

function formError(form, text) {
  const el = form.querySelector(".form-error");
  el.textContent = text || "";
  el.hidden = !text;
}

/** Show each error beside its field; true if at least one matched a field of this form. */
function fieldErrors(form, /** @type {FieldError[]} */ errors) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  let first = null;
  for (const error of errors) {
    const field = String(error.pointer || "").replace(/^#?\//, "").split("/")[0];
    const el = form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
    if (!el) continue;
    el.textContent = error.detail;
    el.hidden = false;
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
  return first !== null;
}

function registrationBody(form, data) {
  const demographic = {};
  if (data.get("gender")) demographic.gender = data.get("gender");
  if (data.get("age_group")) demographic.age_group = data.get("age_group");
  const body = {
    email: String(data.get("email")).trim(),
    password: String(data.get("password")),
    alias: String(data.get("alias")).trim(),
    consent: true,
  };
  if (Object.keys(demographic).length) body.demographic = demographic;
  // The version the user was shown: the server refuses consent to a statement that has changed.
  if (form.dataset.statementVersion) body.data_statement_version = form.dataset.statementVersion;
  return body;
}

export class LoginView {
  /** @param {{onSignedIn: () => void}} options */
  constructor({ onSignedIn }) {
    this.onSignedIn = onSignedIn;
    this.statement = null; // the request, made once per page load
    this.setupLogin($("#login-form"));
    this.setupRegister($("#register-form"));
  }

  async enter() {
    if (this.statement) return;
    this.statement = api("GET", "/data-statement");
    /** @type {DataStatement} */
    const statement = await this.statement;
    $("#statement-version").textContent = `(version ${statement.version})`;
    const body = clear($("#statement-body"));
    for (const section of statement.sections) {
      body.append(h("h3", { text: section.title }), h("p", { text: section.text }));
    }
    $("#register-form").dataset.statementVersion = statement.version;
  }

  async logIn(email, password) {
    /** @type {Token} */
    const token = await api("POST", "/sessions", { email, password });
    session.token = token.access_token;
    this.onSignedIn();
  }

  setupLogin(form) {
    form.addEventListener("submit", guard(async (event) => {
      event.preventDefault();
      formError(form, "");
      const data = new FormData(form);
      try {
        await this.logIn(String(data.get("email")).trim(), String(data.get("password")));
        form.reset();
      } catch (error) {
        formError(form, error.status === 401 ? "Wrong email or password." : describe(error));
      }
    }));
  }

  setupRegister(form) {
    form.addEventListener("submit", guard(async (event) => {
      event.preventDefault();
      formError(form, "");
      fieldErrors(form, []);
      const data = new FormData(form);
      if (!data.get("consent")) {
        fieldErrors(form, [{ pointer: "#/consent", detail: "Please read the data statement and tick the box to register." }]);
        return;
      }
      const body = registrationBody(form, data);
      try {
        await api("POST", "/users", body);
      } catch (error) {
        const errors = error instanceof ApiError ? error.problem.errors : undefined;
        if (!errors || !fieldErrors(form, errors)) formError(form, describe(error));
        return;
      }
      await this.logIn(body.email, body.password);
      form.reset();
    }));
  }
}
