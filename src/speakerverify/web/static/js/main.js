// The speakerverify web client: hash-routed views over the REST API on this origin.
// Speech becomes Meyda MFCC + energy frames in this tab (microphone.js); only those frames,
// cut into one segment per spoken digit (segmenter.js), are ever sent.

import { api, session } from "./api.js";
import { $ } from "./dom.js";
import { MicPanel } from "./mic-panel.js";
import { microphoneUnavailable } from "./microphone.js";
import { createRouter } from "./router.js";
import { banner, describe } from "./ui.js";
import { AccountView } from "./views/account.js";
import { AnalysisView } from "./views/analysis.js";
import { EnrolView } from "./views/enrol.js";
import { LoginView } from "./views/login.js";
import { VerifyView } from "./views/verify.js";

const mic = new MicPanel();
const enrol = new EnrolView({ mic });

function signedOut(message) {
  session.token = null;
  enrol.forget();
  mic.stop();
  if (message) banner("session", "info", message);
  location.hash = "#/login";
}

const router = createRouter({
  views: {
    login: new LoginView({ onSignedIn: () => { location.hash = "#/enrol"; } }),
    enrol,
    verify: new VerifyView({ mic }),
    intrusion: new AnalysisView(),
    account: new AccountView({ onSignedOut: signedOut }),
  },
  signedOutView: "login",
  homeView: "enrol",
});

/** Say up front what this browser or this install cannot do, instead of failing on first use. */
function checkCapabilities() {
  const unavailable = microphoneUnavailable();
  if (unavailable) {
    banner("secure", "error", unavailable.message);
    mic.disable(unavailable.message);
    $("#verify-start").disabled = true;
  }
  if (!globalThis.Meyda) {
    banner("meyda", "error",
      "The feature extractor (Meyda) could not be loaded from this server, so enrolment and verification are disabled. " +
        "The operator must install the web assets: npm ci --prefix src/speakerverify/web");
    mic.disable();
  }
}

async function main() {
  session.onExpired = () => signedOut("Your session has ended. Please log in again.");
  checkCapabilities();
  try {
    mic.config = await api("GET", "/feature-config");
  } catch (error) {
    banner("config", "error", `The feature configuration could not be loaded: ${describe(error)}`);
  }
  await router.start();
  document.body.dataset.ready = "true";
}

main();
