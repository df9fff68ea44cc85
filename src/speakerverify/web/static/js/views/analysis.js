// Intrusion test and benchmark: how my model answers other users' takes, and how other users'
// models answer mine, as a table and a bar chart of mean scores.

import { api } from "../api.js";
import { barChart } from "../chart.js";
import { $, clear, fmtNum, h } from "../dom.js";
import { guard } from "../ui.js";

/** @typedef {import("../types.js").BenchmarkReport} BenchmarkReport */
/** @typedef {import("../types.js").ImpostorRow} ImpostorRow */
/** @typedef {import("../types.js").IntrusionReport} IntrusionReport */
/** @typedef {import("../types.js").ScoreSummary} ScoreSummary */

/** One table row: whose takes or model, how many trials, how many accepted, the mean score. */
function referenceRow(/** @type {ScoreSummary} */ ref) {
  return { label: "you (reference)", trials: ref.trials, accepted: ref.accepts, mean: ref.mean_score, kind: "reference" };
}

function otherRow(/** @type {ImpostorRow} */ row, kind) {
  return { label: row.alias, trials: row.trials, accepted: row.false_accepts, mean: row.mean_score, kind };
}

function scoreTable(titles, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, titles.map((title) => h("th", { scope: "col", text: title })))),
    h("tbody", {}, rows.map((row) => h("tr", { class: row.kind === "reference" ? "row-reference" : undefined },
      h("td", { text: row.label }),
      h("td", { text: String(row.trials) }),
      h("td", { text: String(row.accepted) }),
      h("td", { text: fmtNum(row.mean) }))))));
}

function chartRows(rows) {
  // A speaker without trials has no mean: the chart shows the label without a bar.
  return rows.map((r) => ({ label: r.label, value: r.mean, kind: r.kind }));
}

export class AnalysisView {
  constructor() {
    $("#intrusion-run").addEventListener("click", guard(() => this.runIntrusion()));
    $("#benchmark-run").addEventListener("click", guard(() => this.runBenchmark()));
  }

  enter() {}

  async runIntrusion() {
    const hint = $("#intrusion-hint");
    const host = clear($("#intrusion-result"));
    hint.textContent = "Scoring…";
    /** @type {IntrusionReport} */
    const data = await api("GET", "/me/intrusion-test");
    hint.textContent = data.impostors.length
      ? ""
      : "No other user has finished enrolling yet, so there are no impostors to test against.";
    const rows = [referenceRow(data.reference), ...data.impostors.map((i) => otherRow(i, "impostor"))];
    host.dataset.report = "intrusion";
    host.append(
      h("h2", { text: "Intrusion test" }),
      scoreTable(["Speaker", "Trials", "Accepted", "Mean score"], rows),
      barChart({
        title: "Mean score per speaker against your model, with the decision threshold",
        valueLabel: "mean score (higher = more like you)",
        threshold: data.threshold,
        rows: chartRows(rows),
      }),
      h("p", { class: "hint", text: `Trials of ${data.k} digits. Threshold ${fmtNum(data.threshold)}: trials scoring at or above it are accepted.` }),
    );
  }

  async runBenchmark() {
    const hint = $("#intrusion-hint");
    const host = clear($("#intrusion-result"));
    hint.textContent = "Scoring…";
    /** @type {BenchmarkReport} */
    const data = await api("GET", "/me/benchmark");
    hint.textContent = "";
    host.dataset.report = "benchmark";
    host.append(h("h2", { text: "Benchmark" }));
    if (!data.others.length) {
      host.append(h("p", { text: "No other enrolled users to compare with yet." }));
      return;
    }
    const rows = [referenceRow(data.reference), ...data.others.map((o) => otherRow(o, "other"))];
    host.append(
      scoreTable(["Model", "Trials", "Accepted", "Mean score"], rows),
      // No threshold line: every other model is decided with its own user's threshold.
      barChart({
        title: "Mean score of your takes against each user's model",
        valueLabel: "mean score (higher = more like that user)",
        rows: chartRows(rows),
      }),
      h("p", { class: "hint", text: `Your takes, in trials of ${data.k} digits, against each other user's model; ` +
        "“Accepted” counts the trials that user's own threshold would accept." }),
    );
  }
}
