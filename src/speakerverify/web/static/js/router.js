// Hash routing between the page's views (#/enrol, #/verify, ...). Each view is an object with
// enter() (show and load its data) and optionally leave(); the router owns which one is shown.

import { session } from "./api.js";
import { $, $$ } from "./dom.js";
import { guard } from "./ui.js";

function fromHash(names) {
  const name = location.hash.replace(/^#\/?/, "");
  return names.includes(name) ? name : null;
}

/**
 * @param {{views: Record<string, {enter: () => Promise<void> | void, leave?: () => void}>,
 *          signedOutView: string, homeView: string}} options
 */
export function createRouter({ views, signedOutView, homeView }) {
  const names = Object.keys(views);
  let current = null;

  async function route() {
    let name = fromHash(names);
    // Without a token only the log-in view exists; with one, the log-in view is not a destination.
    if (!session.token) name = signedOutView;
    else if (!name || name === signedOutView) name = homeView;
    if (`#/${name}` !== location.hash) history.replaceState(null, "", `#/${name}`);
    const changed = name !== current;
    if (changed && current && views[current].leave) views[current].leave();
    current = name;
    for (const other of names) $(`#view-${other}`).hidden = other !== name;
    $("#nav").hidden = !session.token;
    for (const link of $$("#nav a")) {
      if (link.dataset.view === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.body.dataset.view = name;
    if (changed) {
      // Screen-reader and keyboard users land on the new view's heading, not on the old link.
      const heading = $(`#view-${name} h1`);
      if (heading) heading.focus({ preventScroll: false });
    }
    await guard(() => views[name].enter())();
  }

  return {
    route,
    start() {
      window.addEventListener("hashchange", () => route());
      return route();
    },
  };
}
