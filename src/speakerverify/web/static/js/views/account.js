// Account: the profile, what is stored (counts and dates), export of everything stored (a JSON
// download, only after a recent voice verification in this session), sign out, and erasure.

import { api, ApiError } from "../api.js";
import { $, clear, fmtTime, h } from "../dom.js";
import { confirmDialog, guard } from "../ui.js";

/** @typedef {import("../types.js").Profile} Profile */
/** @typedef {import("../types.js").StoredSummary} StoredSummary */

const NEEDS_VOICE = "urn:speakerverify:problem:voice-verification-required";

export class AccountView {
  /** @param {{onSignedOut: (message: string) => void}} options */
  constructor({ onSignedOut }) {
    this.onSignedOut = onSignedOut;
    $("#export").addEventListener("click", guard(() => this.exportData()));
    $("#signout").addEventListener("click", guard(() => this.signOut()));
    $("#delete-account").addEventListener("click", guard(() => this.deleteAccount()));
  }

  async enter() {
    /** @type {Profile} */
    const profile = await api("GET", "/me");
    const demo = profile.demographic ?? {};
    const rows = [
      ["Alias", profile.alias],
      ["Email", profile.email],
      ["Gender", demo.gender ?? "not given"],
      ["Age group", demo.age_group ?? "not given"],
      ["Data statement", `version ${profile.data_statement_version}, agreed ${fmtTime(profile.consented_at)}`],
      ["Member since", fmtTime(profile.created_at)],
      ["Enrolment", `${profile.enrolment.percent}%${profile.enrolment.ready ? " (ready)" : ""}`],
    ];
    const dl = clear($("#profile"));
    for (const [k, v] of rows) dl.append(h("dt", { text: k }), h("dd", { text: v }));
    /** @type {StoredSummary} */
    const stored = await api("GET", "/me/stored");
    const minutes = Math.round(stored.export_needs_verification_within_seconds / 60);
    $("#export-note").textContent = `Export includes your voice features, so it needs a voice verification ` +
      `passed in this session within the last ${minutes} minute${minutes === 1 ? "" : "s"}.`;
    const list = clear($("#stored"));
    for (const t of stored.tables.filter((row) => row.rows > 0)) {
      const when = t.last ? `, latest ${fmtTime(t.last)}` : "";
      list.append(h("li", { dataset: { table: t.table }, text: `${t.table.replaceAll("_", " ")}: ${t.rows}${when}` }));
    }
  }

  async exportData() {
    let data;
    try {
      data = await api("GET", "/me/export");
    } catch (error) {
      if (error instanceof ApiError && error.problem.type === NEEDS_VOICE) {
        clear($("#account-hint")).append("Export needs a recent voice verification in this session: ",
          h("a", { href: "#/verify", text: "verify your voice" }), ", then export again.");
        return;
      }
      throw error;
    }
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: "speakerverify-export.json", hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    // Revoked later, not at once: the download may still be reading the blob.
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    $("#account-hint").textContent = "Your data was saved as speakerverify-export.json.";
  }

  async signOut() {
    try {
      await api("DELETE", "/sessions/current");
    } catch {
      // Signing out locally is what matters; an expired token is already unusable.
    }
    this.onSignedOut("You are signed out.");
  }

  async deleteAccount() {
    const ok = await confirmDialog(
      "Delete your account?",
      "This erases your account, every enrolment take, your voice model and your verification history. It cannot be undone.",
      "Delete my account",
    );
    if (!ok) return;
    await api("DELETE", "/me");
    this.onSignedOut("Your account and all its data were erased.");
  }
}
