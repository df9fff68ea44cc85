// The widget's side of the API: talks to the service the widget was loaded from (not to the page's own
// origin, which is the relying party's), with the relying-party session token as a bearer token and no
// cookies. Pure: no DOM, fetch injected, so Node tests it (tests/node/widget_client.test.mjs).

import { FRAMES_TYPE } from "../wire.js";

/** The service's origin URL (e.g. voice.example/, scheme included) from the widget module's own URL. */
export function serviceBase(moduleUrl) {
  return new URL("/", moduleUrl).href;
}

/** A failed call: HTTP status (0 when the service could not be reached) and the problem's reason, if any. */
export class WidgetError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = "WidgetError";
    this.status = status;
    this.reason = (problem && problem.reason) || null;
  }

  /** The `speakerverify-error` event's detail: what the page may show or log, nothing more. */
  get detail() {
    return { status: this.status, reason: this.reason, message: this.message };
  }
}

export class ServiceClient {
  /**
   * @param {string} base       the service's origin URL (serviceBase)
   * @param {string} token      the relying-party session token
   * @param {typeof fetch} [fetchImpl]
   */
  constructor(base, token, fetchImpl = globalThis.fetch.bind(globalThis)) {
    if (!token) throw new WidgetError(0, { detail: "The element has no session attribute (a session token)." });
    this.base = base;
    this.token = token;
    this.fetch = fetchImpl;
  }

  /**
   * body: undefined, a JSON-able value or a Uint8Array from wire.js; resolves to the JSON answer (null for
   * 204). `anonymous`: without the token, for public routes (a simple request: no CORS preflight).
   */
  async request(method, path, body, { anonymous = false } = {}) {
    const headers = { Accept: "application/json, application/problem+json" };
    if (!anonymous) headers.Authorization = `Bearer ${this.token}`;
    const binary = body instanceof Uint8Array;
    if (body !== undefined) headers["Content-Type"] = binary ? FRAMES_TYPE : "application/json";
    let response;
    try {
      response = await this.fetch(new URL(`/api/v1${path}`, this.base).href, {
        method,
        headers,
        body: body === undefined || binary ? body : JSON.stringify(body),
        mode: "cors",
        // The token is the only credential: the service's cookies (if any) must never ride along.
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new WidgetError(0, { detail: "The voice service cannot be reached. Check your connection." });
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new WidgetError(response.status, data);
    return data;
  }
}

/** The `speakerverify-done` detail of a verification answer: exactly these three fields. */
export function verifyDetail(verification) {
  return {
    result_token: verification.result_token ?? null,
    decision: verification.decision,
    reason: verification.reason,
  };
}

/** Whether an enrolment failure is one the person can fix by saying the digit again (the take was refused). */
export function retryable(error) {
  return error instanceof WidgetError && error.status === 422;
}
