// The page's own socket to the portal, reconnected for as long as the page is open: after 1 s, then
// doubling up to 30 s between attempts, and at once when the browser comes back online or the tab is shown
// again (a laptop lid, a network blip). The portal's bridge has its own schedule for the TMI side.
//
// The close code says whether to come back (`closes`, the portal's table from portal/live/closes.py, sent in
// the page's config; docs/live-protocol.md): a code that says not to ends the page's session with its words.

export const FIRST_DELAY = 1;
export const MAX_DELAY = 30;

export class LiveSocket {
  constructor(url, { onOpen, onFrame, onDrop, onEnd, onRetryTick }, { closes = {}, maxFrameBytes = Infinity } = {}) {
    this.url = url;
    this.handlers = { onOpen, onFrame, onDrop, onEnd, onRetryTick };
    this.closes = closes;
    this.maxFrameBytes = maxFrameBytes;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.ticker = null;
    this.retryAt = 0;
    this.stopped = false;
    this.dropped = null;
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") this.retryNow(); });
  }

  get open() { return this.socket !== null && this.socket.readyState === WebSocket.OPEN; }

  connect() {
    if (this.stopped) return;
    this.clearTimers();
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => { opened = true; if (this.socket === socket) this.handlers.onOpen(); });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket || typeof event.data !== "string") return;
      let frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      if (frame && typeof frame === "object" && typeof frame.type === "string") this.handlers.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      // A close this page asked for (`drop`) is a blip, whatever code the server echoes back.
      const meaning = socket !== this.dropped && Object.hasOwn(this.closes, event.code) ? this.closes[event.code] : null;
      if (meaning && !meaning.reconnect) {
        this.stopped = true;
        this.clearTimers();
        this.handlers.onEnd(meaning.message, event.code);
        return;
      }
      this.handlers.onDrop(opened, meaning ? meaning.message : null);
      this.schedule();
    });
  }

  // The server session said hello: the next drop starts again from the shortest wait.
  confirmed() { this.attempt = 0; }

  schedule() {
    this.attempt += 1;
    const delay = Math.min(MAX_DELAY, FIRST_DELAY * 2 ** (this.attempt - 1));
    this.retryAt = Date.now() + delay * 1000;
    this.timer = setTimeout(() => this.connect(), delay * 1000);
    const tick = () => this.handlers.onRetryTick(this.attempt, Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000)));
    tick();
    this.ticker = setInterval(tick, 1000);
  }

  retryNow() {
    if (!this.stopped && this.socket === null && this.timer !== null) this.connect();
  }

  // Whether the portal would take this frame: a bigger one is refused by the portal, and one over the
  // server's message limit costs the socket, so the page never sends it.
  fits(frame) { return new TextEncoder().encode(JSON.stringify(frame)).length <= this.maxFrameBytes; }

  send(frame) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // For the tests and for "lid closed": drop the socket as the network would.
  drop() { if (this.socket) { this.dropped = this.socket; this.socket.close(); } }

  stop() {
    this.stopped = true;
    this.clearTimers();
    if (this.socket) { const socket = this.socket; this.socket = null; socket.close(); }
  }

  clearTimers() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = null;
    this.ticker = null;
  }
}
