// The REST API on this origin: bearer token in sessionStorage (per tab, gone when it closes),
// RFC 9457 problem details turned into ApiError.

import { FRAMES_TYPE } from "./wire.js";

const TOKEN_KEY = "speakerverify.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.reason = this.problem.reason;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  onExpired: null,
};

/** body: undefined, a JSON-able value, or a Uint8Array from wire.js (sent as application/vnd.speakerverify.frames). */
export async function api(method, path, body) {
  const headers = { Accept: "application/json, application/problem+json" };
  const binary = body instanceof Uint8Array;
  if (body !== undefined) headers["Content-Type"] = binary ? FRAMES_TYPE : "application/json";
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined || binary ? body : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { title: "Network error", detail: "The service cannot be reached. Check your connection." });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    if (response.status === 401 && token && session.onExpired) {
      session.token = null;
      session.onExpired();
    }
    throw new ApiError(response.status, data);
  }
  return data;
}
