// Intrusion test and benchmark: how my model answers other users' voices, and how other users'
// models answer mine, in aggregate. The server sends counts only (no aliases, scores or thresholds):
// per-speaker scores would help an attacker steer crafted takes towards someone's model.

import { api } from "../api.js";
import { $, clear, h } from "../dom.js";
import { guard } from "../ui.js";

/** @typedef {import("../types.js").AnalysisSummary} AnalysisSummary */
/** @typedef {import("../types.js").TrialCounts} TrialCounts */

function countsTable(/** @type {[string, TrialCounts, string][]} */ rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["", "Trials", "Would pass"].map((title) => h("th", { scope: "col", text: title })))),
    h("tbody", {}, rows.map(([label, counts, kind]) => h("tr", { class: `row-${kind}`, dataset: { kind } },
      h("th", { scope: "row", text: label }),
      h("td", { text: String(counts.trials) }),
      h("td", { text: String(counts.would_pass) }))))));
}

export class AnalysisView {
  constructor() {
    $("#intrusion-run").addEventListener("click", guard(() => this.run("intrusion")));
    $("#benchmark-run").addEventListener("click", guard(() => this.run("benchmark")));
  }

  enter() {}

  /** @param {"intrusion" | "benchmark"} report */
  async run(report) {
    const hint = $("#intrusion-hint");
    const host = clear($("#intrusion-result"));
    hint.textContent = "Scoring…";
    /** @type {AnalysisSummary} */
    const data = await api("GET", report === "intrusion" ? "/me/intrusion-test" : "/me/benchmark");
    hint.textContent = "";
    host.dataset.report = report;
    const intrusion = report === "intrusion";
    host.append(h("h2", { text: intrusion ? "Intrusion test" : "Benchmark" }));
    if (!data.other_voices) {
      host.append(h("p", { class: "no-others", text: "No other user has finished enrolling yet, so there are no other voices to compare with." }));
    }
    const voices = `${data.other_voices} other voice${data.other_voices === 1 ? "" : "s"}`;
    const others = intrusion ? `Takes of ${voices} against your model` : `Your takes against ${voices}' models`;
    host.append(
      countsTable([[others, data.others, "others"], ["Your own held-out takes against your model", data.own, "own"]]),
      h("p", { class: "hint", text: `Trials of ${data.k} digits, decided as a verification would be. ` +
        (intrusion ? "“Would pass” among other voices counts impostors your model would accept."
          : "Each other model decides with its own user's threshold.") +
        " Only totals are shown: which voices, and their scores, stay with the operator." }),
    );
  }
}
