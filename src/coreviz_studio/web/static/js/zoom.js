// Zoom and pan of one picture inside a viewport: the wheel or a pinch zooms around the pointer,
// a drag (mouse, pen or one finger) pans, the keyboard does both (+ − 0 and the arrows).
// The stage (picture and its boxes) is sized to the picture's own pixels and transformed with
// translate + scale, so the boxes, placed in percentages of it, scale with the zoom.
// `--unzoom` (1 / scale) lets the CSS keep box borders and labels the same size on screen.

const MIN_FACTOR = 0.25; // of the fit-to-screen scale
const MAX_SCALE = 8; // of the picture's own pixels (or 4x the fit, if more)

export class Zoom {
  constructor(viewport, stage, onChange = () => {}) {
    this.viewport = viewport;
    this.stage = stage;
    this.onChange = onChange;
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.fitScale = 1;
    this.x = 0;
    this.y = 0;
    this.pointers = new Map();
    this.pinch = null;
    viewport.addEventListener("wheel", (e) => this.#wheel(e), { passive: false });
    viewport.addEventListener("pointerdown", (e) => this.#down(e));
    viewport.addEventListener("pointermove", (e) => this.#move(e));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      viewport.addEventListener(type, (e) => this.#up(e));
    }
    viewport.addEventListener("keydown", (e) => this.#key(e));
    viewport.addEventListener("dblclick", (e) => {
      if (e.target.closest(".box")) return;
      if (this.scale > this.fitScale * 1.01) this.fit();
      else this.zoomAt(2, ...this.#local(e));
    });
    new ResizeObserver(() => { if (this.fitted) this.fit(); }).observe(viewport);
  }

  // A new picture of width x height pixels: fit it to the viewport.
  setSize(width, height) {
    this.width = width;
    this.height = height;
    this.stage.style.width = `${width}px`;
    this.stage.style.height = `${height}px`;
    this.fit();
  }

  fit() {
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    if (!this.width || !this.height || !vw || !vh) return;
    this.fitScale = Math.min(vw / this.width, vh / this.height);
    this.scale = this.fitScale;
    this.x = (vw - this.width * this.scale) / 2;
    this.y = (vh - this.height * this.scale) / 2;
    this.fitted = true;
    this.#apply();
  }

  // Zoom by `factor` keeping the point (px, py) of the viewport where it is.
  zoomAt(factor, px, py) {
    const max = Math.max(MAX_SCALE, this.fitScale * 4);
    const next = Math.min(max, Math.max(this.fitScale * MIN_FACTOR, this.scale * factor));
    if (px === undefined) {
      px = this.viewport.clientWidth / 2;
      py = this.viewport.clientHeight / 2;
    }
    this.x = px - (px - this.x) * (next / this.scale);
    this.y = py - (py - this.y) * (next / this.scale);
    this.scale = next;
    this.fitted = false;
    this.#apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.fitted = false;
    this.#apply();
  }

  // How much bigger than fit-to-screen (1: fitted).
  get relative() {
    return this.scale / this.fitScale;
  }

  #apply() {
    // Keep some of the picture in view: it cannot be dragged away entirely.
    const { clientWidth: vw, clientHeight: vh } = this.viewport;
    const w = this.width * this.scale;
    const h = this.height * this.scale;
    const keep = 40;
    this.x = Math.min(vw - Math.min(keep, w), Math.max(Math.min(keep, w) - w, this.x));
    this.y = Math.min(vh - Math.min(keep, h), Math.max(Math.min(keep, h) - h, this.y));
    this.stage.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.stage.style.setProperty("--unzoom", String(1 / this.scale));
    this.onChange(this);
  }

  #local(event) {
    const rect = this.viewport.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  #wheel(event) {
    if (!this.width) return;
    event.preventDefault();
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    this.zoomAt(Math.exp(-delta * 0.0015), ...this.#local(event));
  }

  #down(event) {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    this.pointers.set(event.pointerId, this.#local(event));
    try {
      this.viewport.setPointerCapture(event.pointerId);
    } catch { /* a pointer the browser no longer tracks: the moves still arrive here */ }
    this.viewport.classList.add("dragging");
    if (this.pointers.size === 2) this.pinch = this.#pinchState();
  }

  #pinchState() {
    const [[ax, ay], [bx, by]] = [...this.pointers.values()];
    return { distance: Math.hypot(bx - ax, by - ay) || 1, mx: (ax + bx) / 2, my: (ay + by) / 2 };
  }

  #move(event) {
    const last = this.pointers.get(event.pointerId);
    if (!last) return;
    const now = this.#local(event);
    this.pointers.set(event.pointerId, now);
    if (this.pointers.size >= 2 && this.pinch) {
      const next = this.#pinchState();
      this.panBy(next.mx - this.pinch.mx, next.my - this.pinch.my);
      this.zoomAt(next.distance / this.pinch.distance, next.mx, next.my);
      this.pinch = next;
    } else if (this.pointers.size === 1) {
      this.panBy(now[0] - last[0], now[1] - last[1]);
    }
  }

  #up(event) {
    if (!this.pointers.delete(event.pointerId)) return;
    if (this.pointers.size < 2) this.pinch = null;
    if (this.pointers.size === 0) this.viewport.classList.remove("dragging");
  }

  #key(event) {
    if (event.target !== this.viewport || !this.width) return;
    const step = 40;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (event.key === "+" || event.key === "=") this.zoomAt(1.25);
    else if (event.key === "-" || event.key === "_") this.zoomAt(0.8);
    else if (event.key === "0") this.fit();
    else if (moves[event.key] && !this.fitted) this.panBy(...moves[event.key]);
    else return;
    event.preventDefault();
  }
}
