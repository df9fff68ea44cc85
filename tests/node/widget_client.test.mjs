// The widget's API client (static/js/widget/client.js) against a fake fetch: it talks to the service
// the widget came from (never the page's origin), sends the session token and no cookies, and turns
// problems into errors the page can read. Run by tests/web/test_js_units.py (or: node --test tests/node).
import assert from "node:assert/strict";
import { test } from "node:test";

import { retryable, ServiceClient, serviceBase, verifyDetail, WidgetError } from "../../src/speakerverify/web/static/js/widget/client.js";
import { FRAMES_TYPE } from "../../src/speakerverify/web/static/js/wire.js";

function fakeFetch(status, body, type = "application/json") {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, init });
    return {
      status,
      ok: status >= 200 && status < 300,
      headers: { get: (name) => (name.toLowerCase() === "content-type" ? type : null) },
      json: async () => body,
    };
  };
  return { impl, calls };
}

test("the service base is the origin the module was loaded from, whatever its path", () => {
  assert.equal(serviceBase("https://voice.example:8443/widget/speakerverify.js"), "https://voice.example:8443/");
  assert.equal(serviceBase("http://127.0.0.1:9000/static/js/widget/speakerverify.js?v=2"), "http://127.0.0.1:9000/");
});

test("requests go to the service with the bearer token, in CORS mode, without cookies", async () => {
  const { impl, calls } = fakeFetch(200, { digits: [1, 2, 3, 4, 5] });
  const client = new ServiceClient("https://voice.example/", "tok-123", impl);
  const answer = await client.request("POST", "/challenges");
  assert.deepEqual(answer, { digits: [1, 2, 3, 4, 5] });
  assert.equal(calls.length, 1);
  const { url, init } = calls[0];
  assert.equal(url, "https://voice.example/api/v1/challenges");
  assert.equal(init.method, "POST");
  assert.equal(init.headers.Authorization, "Bearer tok-123");
  assert.equal(init.mode, "cors");
  assert.equal(init.credentials, "omit");
  assert.equal(init.body, undefined);
  assert.equal(init.headers["Content-Type"], undefined);
});

test("public routes can be asked without the token", async () => {
  const { impl, calls } = fakeFetch(200, { config_id: "c" });
  await new ServiceClient("https://voice.example/", "tok", impl).request("GET", "/feature-config", undefined, { anonymous: true });
  assert.equal(calls[0].init.headers.Authorization, undefined);
});

test("binary bodies are sent as the frames type, JSON bodies as JSON", async () => {
  const { impl, calls } = fakeFetch(201, {});
  const client = new ServiceClient("https://voice.example/", "t", impl);
  const bytes = new Uint8Array([1, 2, 3]);
  await client.request("POST", "/enrolment/utterances", bytes);
  await client.request("POST", "/x", { a: 1 });
  assert.equal(calls[0].init.headers["Content-Type"], FRAMES_TYPE);
  assert.equal(calls[0].init.body, bytes);
  assert.equal(calls[1].init.headers["Content-Type"], "application/json");
  assert.equal(calls[1].init.body, '{"a":1}');
});

test("a problem becomes a WidgetError with status, reason and message; 422 is retryable, 403 is not", async () => {
  const refused = fakeFetch(422, { title: "Unprocessable", detail: "Too quiet.", reason: "too_quiet" }, "application/problem+json");
  const client = new ServiceClient("https://voice.example/", "t", refused.impl);
  const error = await client.request("POST", "/enrolment/utterances", new Uint8Array(1)).catch((e) => e);
  assert.ok(error instanceof WidgetError);
  assert.deepEqual(error.detail, { status: 422, reason: "too_quiet", message: "Too quiet." });
  assert.equal(retryable(error), true);
  const forbidden = fakeFetch(403, { title: "Forbidden" }, "application/problem+json");
  const wrongPurpose = await new ServiceClient("https://voice.example/", "t", forbidden.impl)
    .request("POST", "/challenges")
    .catch((e) => e);
  assert.deepEqual(wrongPurpose.detail, { status: 403, reason: null, message: "Forbidden" });
  assert.equal(retryable(wrongPurpose), false);
  assert.equal(retryable(new Error("x")), false);
});

test("an unreachable service is status 0, and 204 answers null", async () => {
  const down = new ServiceClient("https://voice.example/", "t", async () => {
    throw new TypeError("Failed to fetch");
  });
  const error = await down.request("GET", "/feature-config").catch((e) => e);
  assert.equal(error.status, 0);
  const empty = fakeFetch(204, null, "");
  assert.equal(await new ServiceClient("https://voice.example/", "t", empty.impl).request("DELETE", "/x"), null);
});

test("an element without a session token fails at once", () => {
  assert.throws(() => new ServiceClient("https://voice.example/", null, async () => {}), WidgetError);
  assert.throws(() => new ServiceClient("https://voice.example/", "", async () => {}), WidgetError);
});

test("the done event's detail carries exactly the token, the decision and the reason", () => {
  const detail = verifyDetail({ attempt_id: 7, decision: "accept", reason: "accepted", result_token: "a.b.c", extra: 1 });
  assert.deepEqual(detail, { result_token: "a.b.c", decision: "accept", reason: "accepted" });
  assert.equal(verifyDetail({ decision: "reject", reason: "voice_not_matched" }).result_token, null);
});
