// The page's entry point: tabs (by the URL's #hash) and the three pages.
import { translatePage } from "./i18n.js";
import { initGraphs } from "./graphs.js";
import { initDigits } from "./digits.js";
import { initTrain } from "./train.js";

const started = {};
const inits = { graphs: initGraphs, digits: initDigits, train: initTrain };

function show(tab) {
  if (!inits[tab]) tab = "graphs";
  for (const page of document.querySelectorAll(".page")) page.hidden = page.dataset.page !== tab;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === tab);
  if (!started[tab]) {
    started[tab] = true;
    inits[tab]();
  }
}

translatePage();
window.addEventListener("hashchange", () => show(location.hash.slice(1)));
show(location.hash.slice(1));
