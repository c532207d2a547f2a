// The room page's client: live messages, acks, reconnect with backoff and resume by seq,
// an outbox that survives a dropped connection, reports, and the private support panel.
// Message text is always inserted with textContent, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("room");
  if (!root) return;
  const slug = root.dataset.slug;
  const me = root.dataset.username;
  const $ = (id) => document.getElementById(id);
  const list = $("messages"), form = $("composer"), box = $("body");
  const statusLine = $("status"), notice = $("notice"), roomState = $("room-state");

  let socket = null;
  let lastSeq = 0;
  let attempts = 0;
  let synced = false;
  let retryTimer = null;
  const shown = new Map();     // seq -> <li>
  const outbox = new Map();    // client_id -> body, until acked (resent after reconnect)
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }
  function setStatus(text, state) { statusLine.textContent = text; statusLine.dataset.state = state || ""; }
  function showNotice(text) { notice.textContent = text; notice.hidden = !text; }
  function byClientId(clientId) {
    return list.querySelector('.message[data-client-id="' + CSS.escape(clientId) + '"]');
  }
  function nearBottom() { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }

  // One message element; the body is text only.
  function build(frame, pending) {
    const li = el("div", "message");
    const own = !frame.author || frame.author.username === me;
    if (own) li.classList.add("own");
    if (pending) li.classList.add("pending");
    if (frame.client_id) li.dataset.clientId = frame.client_id;
    if (frame.seq) li.dataset.seq = String(frame.seq);
    const meta = el("p", "meta");
    const author = el("span", "author", own ? "You" : frame.author.display_name);
    const role = frame.author && frame.author.role;
    if (role && role !== "participant" && !frame.author.display_name.toLowerCase().includes(role)) {
      author.append(el("span", "badge", frame.author.role));
    }
    meta.append(author);
    const time = el("time", "time");
    if (frame.sent_at) {
      time.dateTime = frame.sent_at;
      time.textContent = timeFormat.format(new Date(frame.sent_at));
    }
    meta.append(time);
    const state = el("span", "state", pending ? "Sending…" : "");
    meta.append(state);
    li.append(meta, el("p", "body", frame.body));
    if (!own && frame.seq) {
      const report = el("button", "report link", "Report");
      report.type = "button";
      report.setAttribute("aria-label", "Report: message from " + frame.author.display_name);
      report.addEventListener("click", () => openReport(li, frame.seq));
      meta.append(report);
    }
    return li;
  }

  // Confirmed messages stay in seq order; pending ones (no seq yet) stay at the bottom.
  function place(li) {
    const stick = nearBottom() || li.classList.contains("own");
    const seq = Number(li.dataset.seq || 0);
    let before = null;
    if (seq && !li.classList.contains("pending")) {
      for (const other of list.children) {
        if (other === li) continue;
        const otherSeq = Number(other.dataset.seq || 0);
        if (other.classList.contains("pending") || !otherSeq || otherSeq > seq) { before = other; break; }
      }
    }
    list.insertBefore(li, before);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function markHeld(li) {
    li.classList.remove("pending");
    li.classList.add("held");
    li.querySelector(".state").textContent = "Shared with your facilitator";
  }

  function onMessage(frame) {
    if (shown.has(frame.seq)) return;           // never twice
    lastSeq = Math.max(lastSeq, frame.seq);
    const pending = frame.client_id && frame.author && frame.author.username === me ? byClientId(frame.client_id) : null;
    const li = build(frame, false);
    if (frame.status === "held") markHeld(li);
    shown.set(frame.seq, li);
    if (pending) { outbox.delete(frame.client_id); pending.remove(); }
    place(li);
  }

  function onAck(frame) {
    outbox.delete(frame.client_id);
    const li = byClientId(frame.client_id);
    if (!li) return;
    li.dataset.seq = String(frame.seq);
    if (frame.status === "held") {
      markHeld(li);
      shown.set(frame.seq, li);
      showNotice("Your message was shared with your facilitator, who will read it soon.");
    } else {
      li.classList.remove("pending");
      li.querySelector(".state").textContent = "";
    }
    place(li);
  }

  function onSupport(frame) {
    const panel = $("support");
    $("support-message").textContent = frame.message || "A facilitator has been told and will be with you soon.";
    const held = $("support-held");
    held.textContent = frame.held && frame.held_notice ? frame.held_notice : "";
    held.hidden = !(frame.held && frame.held_notice);
    const lines = $("support-lines");
    lines.replaceChildren();
    (frame.lines || []).forEach((line) => {
      const item = el("li");
      item.append(el("strong", "", line.name));
      item.append(el("span", "contact", line.contact));
      if (line.url && /^https?:\/\//.test(line.url)) {
        const link = el("a", "", "Visit website");
        link.href = line.url;
        link.rel = "noopener noreferrer";
        link.target = "_blank";
        item.append(link);
      }
      lines.append(item);
    });
    panel.hidden = false;
    panel.focus();
  }

  function onRoomUpdated(frame) {
    const parts = [];
    if (frame.locked) parts.push("The facilitator has paused this room for now.");
    if (frame.slow_mode_seconds) parts.push("Slow mode: one message every " + frame.slow_mode_seconds + " seconds.");
    roomState.textContent = parts.join(" ");
    roomState.hidden = parts.length === 0;
  }

  function openReport(li, seq) {
    if (li.querySelector(".report-form")) return;
    const form = $("report-template").content.firstElementChild.cloneNode(true);
    const input = form.querySelector("input");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "message.report", seq: seq, reason: input.value.trim() }));
        showNotice("Sending your report…");
      } else showNotice("You are offline; please try the report again in a moment.");
      form.remove();
      li.querySelector(".report").focus();
    });
    form.querySelector(".cancel").addEventListener("click", () => { form.remove(); li.querySelector(".report").focus(); });
    li.append(form);
    input.focus();
  }

  const handlers = {
    "message.new": onMessage,
    "message.ack": onAck,
    "resume.done": (frame) => {
      lastSeq = Math.max(lastSeq, frame.last_seq);
      synced = true;
      setStatus("Connected", "online");
      outbox.forEach((body, clientId) => send(clientId, body));
    },
    "support.resources": onSupport,
    "message.held": (frame) => {
      const li = frame.client_id ? byClientId(frame.client_id) : null;
      if (li) markHeld(li);
      showNotice(frame.detail || "Your message was shared with your facilitator.");
    },
    "message.hidden": (frame) => {
      const li = shown.get(frame.seq) || list.querySelector('.message[data-seq="' + frame.seq + '"]');
      if (li) li.remove();
    },
    "room.updated": onRoomUpdated,
    "member.muted": (frame) => showNotice(frame.detail || "You have been muted for a while."),
    "member.removed": (frame) => { showNotice(frame.detail || "You were removed from this room."); attempts = -1; },
    "checkin.opened": (frame) => {
      notice.replaceChildren(el("span", "", (frame.detail || "Your facilitator would like a private check-in.") + " "));
      if (frame.url && frame.url.charAt(0) === "/") {
        const link = el("a", "", "Open " + (frame.title || "the check-in"));
        link.href = frame.url;
        notice.append(link);
      }
      notice.hidden = false;
    },
    "report.received": (frame) => showNotice(frame.detail || "Thank you. Your report reached the facilitators."),
    "report.handled": (frame) => showNotice(frame.detail || "A facilitator has looked at your report."),
    "error": (frame) => {
      if (frame.client_id) {
        const li = byClientId(frame.client_id);
        if (frame.code === "server_error" || frame.code === "rate_limited") {
          showNotice(frame.detail + " We will try again.");
          return;     // stays in the outbox and is resent on the next reconnect
        }
        outbox.delete(frame.client_id);
        if (li) { li.classList.remove("pending"); li.classList.add("failed"); li.querySelector(".state").textContent = "Not sent"; }
      }
      showNotice(frame.detail);
    },
  };

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    synced = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(scheme + "://" + location.host + "/ws/rooms/" + encodeURIComponent(slug) + "/?after_seq=" + lastSeq);
    const mine = socket;
    mine.addEventListener("open", () => { attempts = 0; setStatus("Catching up…", "syncing"); });
    mine.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      const handle = handlers[frame.type];
      if (handle) handle(frame);
    });
    mine.addEventListener("close", (event) => {
      if (socket !== mine) return;
      socket = null;
      if (event.code === 4401) { setStatus("Please sign in again.", "offline"); return; }
      if (event.code === 4403 || attempts < 0) { setStatus("You cannot open this room.", "offline"); return; }
      attempts += 1;
      const delay = Math.min(15000, 400 * Math.pow(2, attempts - 1)) * (0.5 + Math.random() / 2);
      setStatus("Offline. Reconnecting…", "offline");
      retryTimer = setTimeout(connect, delay);
    });
  }

  function send(clientId, body) {
    if (socket && socket.readyState === WebSocket.OPEN && synced) {
      socket.send(JSON.stringify({ type: "message.send", client_id: clientId, body: body }));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = box.value.trim();
    if (!body) return;
    const clientId = newClientId();
    outbox.set(clientId, body);
    place(build({ client_id: clientId, body: body }, true));
    send(clientId, body);
    box.value = "";
    showNotice("");
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("support-close").addEventListener("click", () => { $("support").hidden = true; box.focus(); });
  // Reconnect at once when the browser says the network is back.
  window.addEventListener("online", () => { if (!socket) { attempts = 0; connect(); } });
  // Test hook (no secrets): lets a browser test drop the socket like a network failure would.
  root.addEventListener("peersupport:drop", () => { if (socket) socket.close(); });
  connect();
})();
