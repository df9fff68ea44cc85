// Account: the profile, export of everything stored (a JSON download), sign out, and erasure.

import { api } from "../api.js";
import { $, clear, fmtTime, h } from "../dom.js";
import { confirmDialog, guard } from "../ui.js";

/** @typedef {import("../types.js").Profile} Profile */

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
  }

  async exportData() {
    const data = await api("GET", "/me/export");
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
