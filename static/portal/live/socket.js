// The page's own socket to the portal, reconnected for as long as the page is open: after 1 s, then
// doubling up to 30 s between attempts, and at once when the browser comes back online or the tab is shown
// again (a laptop lid, a network blip). The portal's bridge has its own schedule for the TMI side.

export const FIRST_DELAY = 1;
export const MAX_DELAY = 30;

export class LiveSocket {
  constructor(url, { onOpen, onFrame, onDrop, onRetryTick }) {
    this.url = url;
    this.handlers = { onOpen, onFrame, onDrop, onRetryTick };
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.ticker = null;
    this.retryAt = 0;
    this.stopped = false;
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
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.handlers.onDrop(opened);
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

  send(frame) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // For the tests and for "lid closed": drop the socket as the network would.
  drop() { if (this.socket) this.socket.close(); }

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
