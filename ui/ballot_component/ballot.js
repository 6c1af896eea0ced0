// Beidui's ballot: rank by tapping, review "1. ... 2. ...", type the card, cast with ONE
// request to /api/ballot (web/ballot_api.py). Plain ES module, no build step, no network
// but that route. Every text comes from Python (locale keys); data is put into the page
// with textContent only, never as HTML. Nothing is kept after the receipt arrives.
// What survives a reload is in the address bar: the ticket while the ballot waits for its
// batch (it yields only the receipt), then the receipt. Never the card or the ranking.

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
};

// The receipt (or the ticket) goes into the address bar at once, without a script run, so a
// reload a second later keeps it; the page writes the same value when it is handed back.
function keepInAddressBar(name, value, drop) {
  try {
    const url = new URL(window.location.href);
    url.searchParams.set(name, value);
    if (drop) url.searchParams.delete(drop);
    window.history.replaceState(window.history.state, "", url);
  } catch (err) {
    // A sandboxed frame may refuse: the hand-back still reaches the page.
  }
}

function dropFromAddressBar(name) {
  try {
    const url = new URL(window.location.href);
    url.searchParams.delete(name);
    window.history.replaceState(window.history.state, "", url);
  } catch (err) {
    // as above
  }
}

// A text is a string, or a plural text's forms by CLDR category plus the name of its count
// parameter under `count` ("1 more ballot" / "2 more ballots"): the language's plural rules
// pick the form, as core/i18n.py does for the same table.
const fillWith = (pluralRules) => (text, params) => {
  const chosen =
    typeof text === "string" ? text : text[pluralRules.select(Number(params[text.count]))] ?? text.other;
  return chosen.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
};

// Errors about the card are shown under the card field; the others above the buttons.
const CARD_ERRORS = new Set([
  "ballot.errors.card_required",
  "ballot.errors.card_not_found",
  "ballot.errors.card_spent",
  "crypto.card_code_malformed",
  "crypto.too_many_attempts",
]);

function mount(parent, data, setStateValue) {
  // Our own box inside the host: Streamlit puts the component's <style> in the host too,
  // and redrawing must not remove it.
  const root = el("div", { class: "ballot-root" });
  parent.append(root);
  const T = data.text;
  const fill = fillWith(new Intl.PluralRules(data.lang));
  const state = {
    screen: "choose", // choose -> review -> (sending) -> waiting | stored
    ranking: [],
    role: "",
    card: data.card || "",
    error: data.notice ? { key: "ticket_lost", message: data.notice } : null, // {key, message}
    busy: false,
    ticket: null,
    waitingFor: 0,
    receipt: null,
  };
  if (data.ticket) {
    // A reload while the ballot waited for its batch: the page kept the ticket in the URL.
    state.screen = "waiting";
    state.ticket = data.ticket;
    state.waitingFor = data.waitingFor || 0;
  }
  let pollTimer = null;
  const labelOf = Object.fromEntries(data.methods.map((m) => [m.key, m.label]));
  const live = el("p", { class: "sr-only", "aria-live": "polite", role: "status" });

  const focusFirst = (selector) => {
    const target = root.querySelector(selector);
    if (target) target.focus();
  };

  function render(focusSelector) {
    const view = el("div", { class: "ballot", lang: data.lang === "zh" ? "zh-CN" : "en" });
    const parts =
      state.screen === "choose"
        ? chooseScreen()
        : state.screen === "review"
          ? reviewScreen()
          : state.screen === "waiting"
            ? waitingScreen()
            : storedScreen();
    view.append(...parts.filter(Boolean));
    view.append(live);
    root.replaceChildren(view);
    if (focusSelector) focusFirst(focusSelector);
  }

  function toggle(key) {
    const at = state.ranking.indexOf(key);
    if (at >= 0) {
      state.ranking.splice(at, 1);
      live.textContent = fill(T.unranked, { method: labelOf[key] });
    } else if (state.ranking.length < data.k) {
      state.ranking.push(key);
      live.textContent = fill(T.ranked_as, { n: state.ranking.length, method: labelOf[key] });
    }
    state.error = null;
    const said = live.textContent;
    render(`[data-key="${CSS.escape(key)}"]`);
    live.textContent = said;
  }

  function chooseScreen() {
    const full = state.ranking.length >= data.k;
    const chips = data.methods.map((m) => {
      const rank = state.ranking.indexOf(m.key) + 1;
      const name = rank ? fill(T.chip_ranked, { n: rank, method: m.label }) : m.label;
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: rank ? "chip chosen" : "chip",
            "data-key": m.key,
            "aria-pressed": rank ? "true" : "false",
            "aria-label": name,
            disabled: !rank && full,
            onclick: () => toggle(m.key),
          },
          el("span", { class: "rank", "aria-hidden": "true", text: rank ? String(rank) : "" }),
          el("span", { class: "label", text: m.label }),
        ),
      );
    });
    const roleSelect = el(
      "select",
      { id: "ballot-role", onchange: (e) => (state.role = e.target.value) },
      el("option", { value: "", text: T.role_none }),
      ...data.roles.map((r) => el("option", { value: r.key, text: r.label })),
    );
    roleSelect.value = state.role;
    return [
      el("p", { class: "intro", text: fill(T.vote_intro, { k: data.k }) }),
      data.isOpenMode ? el("p", { class: "warning", text: T.open_mode_warning }) : null,
      el("p", { class: "count", id: "ballot-count", text: fill(T.chosen_count, { n: state.ranking.length, k: data.k }) }),
      el("ul", { class: "chips", "aria-label": fill(T.rank_label, { k: data.k }), "aria-describedby": "ballot-count" }, ...chips),
      el("label", { for: "ballot-role", class: "field-label", text: fill(T.role_label, { k: data.anonymityK }) }),
      roleSelect,
      state.error ? el("p", { class: "error", role: "alert", text: state.error.message }) : null,
      el("button", { type: "button", class: "primary", id: "ballot-review", onclick: toReview, text: T.review_button }),
    ];
  }

  function toReview() {
    if (!state.ranking.length) {
      state.error = { key: "rank_something", message: T.rank_something };
      render("#ballot-review");
      return;
    }
    state.error = null;
    state.screen = "review";
    render(data.isOpenMode ? "#ballot-title" : "#ballot-card");
  }

  function reviewScreen() {
    const cardError = state.error && CARD_ERRORS.has(state.error.key);
    const roleName = data.roles.find((r) => r.key === state.role);
    const card = data.isOpenMode
      ? []
      : [
          el("label", { for: "ballot-card", class: "field-label", text: T.card_code }),
          el("input", {
            id: "ballot-card",
            type: "text",
            value: state.card,
            placeholder: "XXXX-XXXX-XX",
            autocomplete: "off",
            autocapitalize: "characters",
            spellcheck: "false",
            maxlength: 40,
            "aria-describedby": cardError ? "ballot-card-error ballot-card-help" : "ballot-card-help",
            "aria-invalid": cardError ? "true" : "false",
            oninput: (e) => (state.card = e.target.value),
            onkeydown: (e) => {
              if (e.key === "Enter") cast();
            },
          }),
          el("p", { class: "help", id: "ballot-card-help", text: T.card_help }),
          cardError ? el("p", { class: "error", id: "ballot-card-error", role: "alert", text: state.error.message }) : null,
        ];
    return [
      el("h3", { id: "ballot-title", tabindex: "-1", text: T.review }),
      el("ol", { class: "review" }, ...state.ranking.map((key) => el("li", { text: labelOf[key] }))),
      roleName ? el("p", { class: "help", text: fill(T.review_role, { role: roleName.label }) }) : null,
      ...card,
      state.error && !cardError ? el("p", { class: "error", role: "alert", text: state.error.message }) : null,
      el("button", {
        type: "button",
        class: "primary",
        id: "ballot-cast",
        disabled: state.busy,
        "aria-busy": state.busy ? "true" : "false",
        onclick: cast,
        text: state.busy ? T.sending : T.cast,
      }),
      el("button", {
        type: "button",
        class: "secondary",
        id: "ballot-change",
        disabled: state.busy,
        onclick: () => {
          state.screen = "choose";
          state.error = null;
          render(".chip");
        },
        text: T.change,
      }),
    ];
  }

  function waitingScreen() {
    return [
      el("h3", { id: "ballot-title", tabindex: "-1", text: T.sealed }),
      el("p", { role: "status", text: fill(T.waiting_for, { n: state.waitingFor }) }),
    ];
  }

  function storedScreen() {
    return [
      el("p", { class: "success", id: "ballot-title", tabindex: "-1", role: "status", text: T.thank_you }),
      el("h3", { text: T.your_receipt }),
      el("p", { class: "receipt", id: "ballot-receipt", text: state.receipt }),
      el("p", { class: "help", text: T.receipt_explained }),
    ];
  }

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        cache: "no-store",
        body: JSON.stringify({ ...body, workshop: data.workshop, token: data.token, lang: data.lang }),
      });
      return await response.json();
    } catch (err) {
      return { state: "refused", error: "web.network", message: T.network_error };
    }
  }

  function settle(answer) {
    state.busy = false;
    if (answer.state === "stored") {
      // Nothing the ballot said stays in this page: only the receipt.
      state.ranking = [];
      state.role = "";
      state.card = "";
      state.receipt = answer.receipt;
      state.screen = "stored";
      state.ticket = null;
      live.textContent = "";
      render("#ballot-title");
      keepInAddressBar("receipt", answer.receipt, "ticket");
      // The page keeps the receipt (one script run); a little later, so that a room tapping
      // at once gets its receipts before the server redraws every page.
      const [low, high] = data.handbackMs;
      setTimeout(
        () => setStateValue("receipt", answer.receipt),
        low + Math.random() * (high - low),
      );
    } else if (answer.state === "waiting") {
      state.ranking = [];
      state.card = "";
      state.ticket = answer.ticket;
      state.waitingFor = answer.waiting_for;
      state.screen = "waiting";
      render("#ballot-title");
      // The ticket (never the card or the ranking) goes to the page at once, one script run:
      // the page keeps it in the URL, so a reload resumes this wait and still gets the
      // receipt. Only ballots whose batch did not fill within the route's settle time wait.
      keepInAddressBar("ticket", answer.ticket);
      setStateValue("ticket", answer.ticket);
      pollTimer = setTimeout(poll, data.pollMs);
    } else if (answer.error === "web.unknown_ticket") {
      // The server restarted before the batch was written: nothing was stored, the card is
      // unused. Say so and show the ballot again (the ranking was not kept: tap it again).
      state.ticket = null;
      state.screen = "choose";
      state.error = { key: "ticket_lost", message: T.ticket_lost };
      dropFromAddressBar("ticket");
      setStateValue("ticket", "");
      render(".chip");
    } else {
      state.error = { key: answer.error, message: answer.message || T.network_error };
      if (state.screen !== "review") state.screen = "review";
      render(CARD_ERRORS.has(answer.error) ? "#ballot-card" : "#ballot-cast");
    }
  }

  async function poll() {
    pollTimer = null;
    const answer = await post(data.statusEndpoint, { ticket: state.ticket });
    if (answer.state === "waiting") {
      const changed = answer.waiting_for !== state.waitingFor;
      state.waitingFor = answer.waiting_for;
      if (changed) render();
      pollTimer = setTimeout(poll, data.pollMs);
    } else if (answer.error === "web.network") {
      pollTimer = setTimeout(poll, data.pollMs * 2); // the phone lost the Wi-Fi: keep trying
    } else {
      settle(answer);
    }
  }

  async function cast() {
    if (state.busy) return;
    state.busy = true;
    state.error = null;
    render("#ballot-cast");
    settle(
      await post(data.endpoint, {
        card: data.isOpenMode ? null : state.card,
        ranking: state.ranking,
        role: state.role || null,
      }),
    );
  }

  render();
  if (state.ticket) pollTimer = setTimeout(poll, data.pollMs);
  // Streamlit may call the cleanup on a rerun while the phone still waits for its batch or
  // is about to hand the receipt over: the timers stop by themselves once stored.
  return () => {};
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  // Streamlit calls this on every rerun of the page; keep what the phone has tapped unless
  // the page hands a new ballot (another workshop or a fresh token).
  const host = parentElement.host || parentElement;
  const identity = `${data.workshop}|${data.token}|${data.lang}`;
  if (
    host.__beiduiBallot &&
    host.__beiduiBallot.identity === identity &&
    parentElement.querySelector(".ballot-root")
  ) {
    return host.__beiduiBallot.cleanup;
  }
  parentElement.querySelector(".ballot-root")?.remove(); // another workshop or language
  const cleanup = mount(parentElement, data, setStateValue);
  host.__beiduiBallot = { identity, cleanup };
  return cleanup;
}
