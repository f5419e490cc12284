// Who is here: the list of people with one badge for what each is doing, the one line that says who
// presents now (replaced, never stacked), requests to present, and what happened when the host left.

import { isMe, personName, samePerson, say, sendFrame, state, t, ui } from "./page.js";

export function renderPeople() {
  const items = state.participants.map(({ user, can_edit: canEdit }) => {
    const li = document.createElement("li");
    li.className = "live-person";
    li.dataset.userId = user.id;
    const name = document.createElement("span");
    name.className = "live-person-name";
    name.textContent = personName(user) + (isMe(user) ? ` ${t("you_suffix")}` : "");
    li.append(name);
    const badge = (text, kind) => { const b = document.createElement("span"); b.className = `live-badge live-badge-${kind}`; b.textContent = text; li.append(b); };
    if (samePerson(user, state.host)) badge(t("badge_host"), "host");
    // One badge for what the person does now: presenting, or else watching / editing.
    if (samePerson(user, state.presenter)) badge(t("badge_presenting"), "presenter");
    else badge(canEdit === false ? t("badge_watching") : canEdit ? t("badge_can_edit") : t("badge_role_unknown"), canEdit === false ? "reader" : "writer");
    if (isMe(state.host) && !isMe(user) && !samePerson(user, state.presenter) && !state.ended) {
      const hand = document.createElement("button");
      hand.type = "button";
      hand.className = "button button-quiet live-hand-over";
      hand.textContent = t("let_present");
      hand.setAttribute("aria-label", t("let_present_name", { name: personName(user) }));
      hand.addEventListener("click", () => sendFrame({ type: "grant_presenter", user_id: user.id }));
      li.append(hand);
    }
    return li;
  });
  if (!items.length) { const li = document.createElement("li"); li.className = "meta"; li.textContent = t("nobody_here"); items.push(li); }
  ui.people.replaceChildren(...items);
  const presenting = isMe(state.presenter);
  ui.ask.hidden = presenting || state.ended;
  ui.follow.closest("label").hidden = presenting;
  showPresenter();
}

// The one line about presenting: it always says the current state, so a hand-over leaves nothing stale.
function showPresenter() {
  let text = "";
  // Presenting to nobody is not news: the line shows once someone else is here.
  if (!state.ended && state.presenter && state.participants.length > 1) {
    text = isMe(state.presenter) ? t("you_present") : t("someone_presents", { name: personName(state.presenter) });
  }
  ui.presenting.textContent = text;
  ui.presenting.hidden = !text;
  // A request answered by the hand-over is no longer a question.
  for (const card of ui.requests.querySelectorAll(".live-request[data-user-id]")) {
    if (state.ended || card.dataset.userId === (state.presenter && state.presenter.id)) card.remove();
  }
}

export function showRequest(user) {
  if (user) for (const card of ui.requests.querySelectorAll(".live-request")) if (card.dataset.userId === user.id) card.remove();
  const card = document.createElement("div");
  card.className = "live-request";
  if (user) card.dataset.userId = user.id;
  const words = document.createElement("p");
  words.textContent = user ? t("asked_to_present", { name: personName(user) }) : t("someone_asked_to_present");
  card.append(words);
  const button = (text, onClick) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "button"; b.textContent = text;
    b.addEventListener("click", () => { onClick(); card.remove(); });
    card.append(b);
  };
  if (user) {
    button(t("accept"), () => sendFrame({ type: "grant_presenter", user_id: user.id }));
    button(t("decline"), () => sendFrame({ type: "deny_presenter", user_id: user.id }));
  } else {
    // TMI 0.217 does not say who asked: the host picks the person in the list ("Let present").
    words.textContent += ` ${t("who_asked_unknown")}`;
    button(t("dismiss"), () => {});
  }
  ui.requests.append(card);
}

// The session ended. When the host left, the list loses the host, and the page says who else was
// still here (they all saw the same ending).
export function sessionEnded(frame) {
  ui.requests.replaceChildren();
  let people = "";
  if (frame.reason === "host_left" && state.host) {
    const host = state.host;
    state.participants = state.participants.filter((p) => !samePerson(p.user, host));
    state.host = null;
    if (samePerson(state.presenter, host)) state.presenter = null;
    const others = state.participants.map((p) => personName(p.user) + (isMe(p.user) ? ` ${t("you_suffix")}` : ""));
    people = others.length ? t("host_left_still_here", { host: personName(host), names: others.join(", ") }) : t("host_left_alone", { host: personName(host) });
  }
  ui.endedPeople.textContent = people;
  ui.endedPeople.hidden = !people;
  renderPeople();
}

export function initPeople() {
  ui.ask.addEventListener("click", () => { if (sendFrame({ type: "request_presenter" })) say(t("you_asked")); });
}
