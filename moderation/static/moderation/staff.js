// The staff dashboard: flags and escalations over /ws/staff/, with actions as buttons.
// All text from the server is inserted with textContent, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("staff");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const flagList = $("flags"), escList = $("escalations");
  const statusLine = $("staff-status"), alertBox = $("alert");
  const LEVEL_WORDS = { watch: "Watch", high: "High risk", imminent: "Imminent risk" };
  const LEVEL_RANK = { imminent: 3, high: 2, watch: 1 };
  const ROLE_WORDS = { facilitator: "facilitator", mentor: "peer mentor", oncall: "on-call" };
  const flags = new Map(), escalations = new Map();
  const present = new Map(); // room slug -> Map(username -> person)
  let socket = null, attempts = 0, retryTimer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function fromTemplate(id) { return $(id).content.firstElementChild.cloneNode(true); }
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    statusLine.textContent = "Offline: that action was not sent. Reconnecting…";
    return false;
  }
  // The accessible name starts with the visible text and then says whom it concerns.
  function button(label, cls, onClick, about) {
    const b = el("button", cls, label);
    b.type = "button";
    if (about) b.setAttribute("aria-label", label + ": " + about);
    b.addEventListener("click", onClick);
    return b;
  }
  function showAlert(text) { alertBox.textContent = text; alertBox.hidden = false; }

  // A short, gentle two-note tone (no audio file needed).
  function chime() {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      const ctx = new Ctx();
      [660, 880].forEach((freq, i) => {
        const osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, ctx.currentTime + i * 0.25);
        gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + i * 0.25 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + i * 0.25 + 0.4);
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + i * 0.25);
        osc.stop(ctx.currentTime + i * 0.25 + 0.45);
      });
    } catch (e) { /* sound is a courtesy; the visible alert carries the message */ }
  }

  // The excerpt with each piece of evidence marked: found by searching its text, since the
  // excerpt may be truncated and offsets index the full message.
  function highlighted(excerpt, evidence) {
    const quote = el("blockquote", "excerpt");
    const lower = excerpt.toLowerCase();
    const ranges = [];
    (evidence || []).forEach((item) => {
      if (item.recent || !item.text) return;
      const at = lower.indexOf(String(item.text).toLowerCase());
      if (at >= 0) ranges.push([at, at + item.text.length]);
    });
    ranges.sort((a, b) => a[0] - b[0]);
    let pos = 0;
    ranges.forEach(([start, end]) => {
      if (start < pos) return;
      quote.append(document.createTextNode(excerpt.slice(pos, start)));
      quote.append(el("mark", "", excerpt.slice(start, end)));
      pos = end;
    });
    quote.append(document.createTextNode(excerpt.slice(pos)));
    return quote;
  }

  // "Fran (facilitator)": the role is added unless the display name already says it.
  function withRole(person) {
    const word = ROLE_WORDS[person.role];
    const name = person.display_name;
    return word && !name.toLowerCase().includes(word) ? name + " (" + word + ")" : name;
  }

  // Who is in a room right now: a line on its card, and a mark beside each member.
  function renderPresence(room) {
    const people = present.get(room) || new Map();
    const line = root.querySelector('[data-present="' + CSS.escape(room) + '"]');
    if (line) {
      const names = [...people.values()].map(withRole);
      line.textContent = names.length ? names.join(", ") : "Nobody is in the room right now.";
    }
    const card = root.querySelector('.room-card[data-room="' + CSS.escape(room) + '"]');
    if (!card) return;
    card.querySelectorAll("[data-member]").forEach((li) => {
      const here = people.has(li.dataset.member);
      li.classList.toggle("is-here", here);
      li.querySelector(".here").hidden = !here;
    });
  }

  function levelBadge(node, level) {
    node.textContent = LEVEL_WORDS[level] || level;
    node.className = "level level-" + level;
  }

  function renderFlag(frame) {
    const old = flags.get(frame.flag_id);
    const li = fromTemplate("flag-template");
    li.dataset.flagId = String(frame.flag_id);
    li.dataset.room = frame.room;
    li.dataset.seq = String(frame.seq);
    li.classList.add("level-" + frame.level);
    levelBadge(li.querySelector(".level"), frame.level);
    li.querySelector(".where").textContent = (frame.author ? frame.author.display_name : "Someone") + " in " + frame.room_title;
    const time = li.querySelector(".time");
    time.dateTime = frame.created_at;
    time.textContent = new Date(frame.created_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    li.querySelector(".headline").textContent = frame.headline || "";
    li.querySelector(".excerpt").replaceWith(highlighted(frame.excerpt || "", frame.evidence));
    const source = frame.source === "peer_report" ? "Reported by a member" + (frame.reason ? ": " + frame.reason : "") : frame.source === "detector_failure" ? "Screening failed; held to be safe" : "Crisis screening";
    li.querySelector(".source").textContent = source + (frame.held ? " · held, not shown to the group" : "");
    const who = frame.author ? frame.author.display_name : "this member";
    const actions = li.querySelector(".actions");
    const room = frame.room, seq = frame.seq, username = frame.author && frame.author.username;
    if (frame.held) actions.append(button("Release", "secondary", () => send({ type: "message.release", room, seq }), "held message from " + who));
    actions.append(button("Hide", "secondary", () => send({ type: "message.hide", room, seq }), "message from " + who));
    if (username) {
      actions.append(button("Check in", "secondary", () => send({ type: "checkin.open", room, username }), who));
      actions.append(button("Mute 30 minutes", "secondary", () => send({ type: "member.mute", room, username, minutes: 30 }), who));
    }
    actions.append(button("Confirm", "", () => send({ type: "flag.verdict", flag_id: frame.flag_id, verdict: "confirmed" }), "flag on the message from " + who));
    actions.append(button("False alarm", "secondary", () => send({ type: "flag.verdict", flag_id: frame.flag_id, verdict: "false_alarm" }), "flag on the message from " + who));
    flags.set(frame.flag_id, { frame, li });
    if (old) old.li.replaceWith(li); else flagList.prepend(li);
    $("flags-empty").hidden = flags.size > 0;
  }

  function dropFlag(flagId) {
    const item = flags.get(flagId);
    if (!item) return;
    item.li.remove();
    flags.delete(flagId);
    $("flags-empty").hidden = flags.size > 0;
  }

  function sortEscalations() {
    const items = Array.from(escalations.values());
    items.sort((a, b) => (b.frame.tier - a.frame.tier) || ((LEVEL_RANK[b.frame.level] || 0) - (LEVEL_RANK[a.frame.level] || 0)) || (a.frame.created_at < b.frame.created_at ? -1 : 1));
    items.forEach((item) => escList.append(item.li));
    $("esc-empty").hidden = items.length > 0;
  }

  function renderEscalation(frame) {
    const li = fromTemplate("escalation-template");
    li.dataset.escalationId = String(frame.escalation_id);
    li.classList.add("level-" + frame.level);
    levelBadge(li.querySelector(".level"), frame.level);
    li.querySelector(".where").textContent = (frame.author ? frame.author.display_name : "Someone") + " in " + frame.room_title;
    li.querySelector(".headline").textContent = frame.headline || "";
    li.querySelector(".excerpt").replaceWith(highlighted(frame.excerpt || "", frame.evidence));
    renderContext(li, frame);
    const steps = li.querySelector(".steps");
    (frame.playbooks || []).forEach((book) => (book.steps || []).forEach((step) => steps.append(el("li", "", step))));
    if (!steps.children.length) li.querySelector(".playbook").remove();
    const resolveForm = li.querySelector(".resolve");
    const id = frame.escalation_id;
    li.querySelector(".actions").append(
      button("Acknowledge", "", () => send({ type: "escalation.ack", escalation_id: id }), "escalation for " + (frame.author ? frame.author.display_name : "this member")),
      button("Resolve…", "secondary", () => { resolveForm.hidden = false; resolveForm.querySelector("textarea").focus(); }, "escalation, with a note"),
    );
    resolveForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const note = resolveForm.querySelector("textarea").value.trim();
      if (note) send({ type: "escalation.resolve", escalation_id: id, note });
    });
    const item = { frame, li };
    escalations.set(id, item);
    updateEscalation(item);
    sortEscalations();
  }

  // On-call staff are not in the room: say what kind of room it is, who leads it, and what
  // the person wrote just before.
  function renderContext(li, frame) {
    const context = frame.context || {};
    const who = frame.author ? frame.author.display_name : "this person";
    const kind = context.room_kind === "mentoring" ? "A one-to-one mentoring room" : "A peer group";
    const leaders = (context.leaders || []).map(withRole);
    li.querySelector(".room-about").textContent = kind + (leaders.length ? ", led by " + leaders.join(", ") : "") + ".";
    const earlier = context.earlier || [];
    if (!earlier.length) return;
    li.querySelector(".earlier").hidden = false;
    li.querySelector(".earlier-title").textContent = "Before this, " + who + " wrote:";
    const list = li.querySelector(".earlier-messages");
    earlier.forEach((m) => {
      const item = el("li", "", m.excerpt + " ");
      const time = el("time", "muted small", new Date(m.sent_at).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }));
      time.dateTime = m.sent_at;
      item.append(time);
      list.append(item);
    });
  }

  function updateEscalation(item) {
    const f = item.frame;
    item.li.querySelector(".tier").textContent = "Tier " + f.tier;
    const state = f.state === "acknowledged" ? "Acknowledged" + (f.acknowledged_by ? " by " + f.acknowledged_by : "") : "Waiting for someone to acknowledge";
    item.li.querySelector(".state").textContent = state;
    item.li.dataset.state = f.state;
    item.li.querySelector(".actions button").hidden = f.state !== "open";
    tick(item);
  }

  function tick(item) {
    const node = item.li.querySelector(".countdown");
    if (item.frame.state !== "open") { node.textContent = ""; item.li.classList.remove("overdue"); return; }
    const left = Math.round((new Date(item.frame.deadline) - Date.now()) / 1000);
    const abs = Math.abs(left), text = Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0");
    node.textContent = left >= 0 ? "Acknowledge within " + text : "Overdue by " + text;
    item.li.classList.toggle("overdue", left < 0);
  }
  setInterval(() => escalations.forEach(tick), 1000);

  const handlers = {
    "flag.new": (f) => { if (f.state === "open") renderFlag(f); },
    "flag.updated": (f) => { if (f.state !== "open") dropFlag(f.flag_id); },
    "escalation.new": (f) => {
      const fresh = !escalations.has(f.escalation_id);
      if (f.state === "resolved") return;
      if (escalations.has(f.escalation_id)) escalations.get(f.escalation_id).li.remove();
      renderEscalation(f);
      if (fresh && f.state === "open") { chime(); showAlert("New escalation: " + (LEVEL_WORDS[f.level] || f.level) + " in " + f.room_title + "."); }
    },
    "escalation.updated": (f) => {
      const item = escalations.get(f.escalation_id);
      if (!item) return;
      if (f.state === "resolved") { item.li.remove(); escalations.delete(f.escalation_id); sortEscalations(); return; }
      Object.assign(item.frame, f);
      updateEscalation(item);
      sortEscalations();
      if (f.overdue && f.state === "open") { chime(); showAlert("Overdue escalation in " + item.frame.room_title + ": tier " + f.tier + "."); }
    },
    "oncall.unavailable": (f) => { chime(); showAlert(f.detail); },
    "message.hidden": (f) => flags.forEach((item, id) => { if (item.frame.room === f.room && item.frame.seq === f.seq) dropFlag(id); }),
    "message.released": (f) => flags.forEach((item, id) => { if (item.frame.room === f.room && item.frame.seq === f.held_seq) dropFlag(id); }),
    "room.updated": (f) => {
      const node = root.querySelector('[data-room-state="' + CSS.escape(f.room) + '"]');
      if (node) node.textContent = (f.locked ? "Paused" : "Open") + (f.slow_mode_seconds ? " · slow mode " + f.slow_mode_seconds + " s" : "");
    },
    "room.presence": (f) => { present.set(f.room, new Map(f.present.map((p) => [p.username, p]))); renderPresence(f.room); },
    "presence.changed": (f) => {
      if (!present.has(f.room)) present.set(f.room, new Map());
      if (f.present) present.get(f.room).set(f.person.username, f.person);
      else present.get(f.room).delete(f.person.username);
      renderPresence(f.room);
    },
    "action.done": (f) => { statusLine.textContent = "Done: " + String(f.action).replace(".", " "); },
    "error": (f) => { statusLine.textContent = f.detail; },
  };

  root.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-action]");
    if (!b) return;
    const d = b.dataset;
    if (d.confirm && !window.confirm(d.confirm)) return;
    const frame = { type: d.action, room: d.room };
    if (d.username) frame.username = d.username;
    if (d.minutes) frame.minutes = Number(d.minutes);
    if (d.locked) frame.locked = d.locked === "true";
    send(frame);
  });
  root.querySelectorAll("select[data-slow]").forEach((select) => {
    select.addEventListener("change", () => send({ type: "room.slow_mode", room: select.dataset.slow, seconds: Number(select.value) }));
  });

  function connect() {
    clearTimeout(retryTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const mine = new WebSocket(scheme + "://" + location.host + "/ws/staff/");
    socket = mine;
    mine.addEventListener("open", () => { attempts = 0; statusLine.textContent = "Live"; });
    mine.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      const handle = handlers[frame.type];
      if (handle) handle(frame);
    });
    mine.addEventListener("close", (event) => {
      if (socket !== mine) return;
      socket = null;
      if (event.code === 4401 || event.code === 4403) { statusLine.textContent = "Please sign in again."; return; }
      attempts += 1;
      statusLine.textContent = "Offline. Reconnecting…";
      retryTimer = setTimeout(connect, Math.min(15000, 400 * Math.pow(2, attempts - 1)) * (0.5 + Math.random() / 2));
    });
  }
  connect();
})();
