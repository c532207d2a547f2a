// The room page's client: live messages, acks, reconnect and resume by seq.
// Bodies are always inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("room");
  if (!root) return;
  const slug = root.dataset.slug;
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const box = document.getElementById("body");
  const statusLine = document.getElementById("status");

  let socket = null;
  let lastSeq = 0;
  let attempts = 0;
  const seen = new Set();           // seqs shown
  const outbox = new Map();         // client_id -> body, until acked

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  function setStatus(text) { statusLine.textContent = text; }

  function render(frame, pending) {
    const li = document.createElement("li");
    li.className = "message" + (pending ? " pending" : "");
    if (frame.client_id) li.dataset.clientId = frame.client_id;
    if (frame.seq) li.dataset.seq = String(frame.seq);
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = frame.author ? frame.author.display_name : "You";
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = frame.body;
    li.append(who, body);
    list.append(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }

  function onMessage(frame) {
    if (seen.has(frame.seq)) return;
    seen.add(frame.seq);
    lastSeq = Math.max(lastSeq, frame.seq);
    const mine = frame.client_id && list.querySelector('li.pending[data-client-id="' + CSS.escape(frame.client_id) + '"]');
    if (mine) { mine.remove(); }
    render(frame, false);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(scheme + "://" + location.host + "/ws/rooms/" + encodeURIComponent(slug) + "/?after_seq=" + lastSeq);
    socket.addEventListener("open", function () { setStatus("Connected"); attempts = 0; });
    socket.addEventListener("message", function (event) {
      const frame = JSON.parse(event.data);
      if (frame.type === "message.new") onMessage(frame);
      else if (frame.type === "message.ack") {
        outbox.delete(frame.client_id);
        const li = list.querySelector('li[data-client-id="' + CSS.escape(frame.client_id) + '"]');
        if (li && frame.status === "held") { li.classList.add("held"); li.classList.remove("pending"); }
      } else if (frame.type === "resume.done") {
        lastSeq = Math.max(lastSeq, frame.last_seq);
        outbox.forEach(function (body, clientId) { send(clientId, body); });
      } else if (frame.type === "error") {
        setStatus(frame.detail);
        if (frame.client_id) {
          outbox.delete(frame.client_id);
          const li = list.querySelector('li[data-client-id="' + CSS.escape(frame.client_id) + '"]');
          if (li) li.classList.add("failed");
        }
      }
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401 || event.code === 4403) { setStatus("You cannot open this room."); return; }
      attempts += 1;
      const delay = Math.min(15000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      setStatus("Reconnecting…");
      setTimeout(connect, delay);
    });
  }

  function send(clientId, body) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message.send", client_id: clientId, body: body }));
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const body = box.value.trim();
    if (!body) return;
    const clientId = newClientId();
    outbox.set(clientId, body);
    render({ client_id: clientId, body: body }, true);
    send(clientId, body);
    box.value = "";
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  connect();
})();
