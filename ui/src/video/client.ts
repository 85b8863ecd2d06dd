// The web view's end of the picture server: one WebSocket, the secret sent first, pictures handed to
// whoever watches their video id. The latest picture of each video is kept, so that a tile that appears
// later draws at once; pictures are drawn on the next animation frame, at most once each.
import { parsePicture, Picture, PictureError } from "./frame";

export interface Endpoint {
  url: string;
  secret: string;
}

type Watcher = (picture: Picture) => void;

const RETRY_MS = [100, 300, 1000, 3000];

export class PictureClient {
  private socket: WebSocket | null = null;
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly latest = new Map<string, Picture>();
  private readonly pending = new Set<string>();
  private scheduled = false;
  private retries = 0;
  private closed = false;
  /** Messages refused (garbage): counted, never thrown. */
  refused = 0;
  received = 0;
  /** Pictures received per video id. */
  readonly receivedBy = new Map<string, number>();

  constructor(private readonly endpoint: Endpoint) {}

  connect(): void {
    if (this.closed) return;
    const socket = new WebSocket(this.endpoint.url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      this.retries = 0;
      socket.send(this.endpoint.secret);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = () => {
      this.socket = null;
      if (this.closed) return;
      const wait = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
      this.retries += 1;
      setTimeout(() => this.connect(), wait);
    };
    this.socket = socket;
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  /** Calls `watcher` with every new picture of video `id`; returns how to stop. */
  watch(id: string, watcher: Watcher): () => void {
    let set = this.watchers.get(id);
    if (!set) {
      set = new Set();
      this.watchers.set(id, set);
    }
    set.add(watcher);
    const last = this.latest.get(id);
    if (last) watcher(last);
    return () => {
      set.delete(watcher);
      if (set.size === 0) this.watchers.delete(id);
    };
  }

  /** Forgets a video that ended. */
  forget(id: string): void {
    this.latest.delete(id);
    this.pending.delete(id);
  }

  receive(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) return;
    let picture: Picture;
    try {
      picture = parsePicture(data);
    } catch (e) {
      if (e instanceof PictureError) {
        this.refused += 1;
        return;
      }
      throw e;
    }
    this.received += 1;
    this.receivedBy.set(picture.id, (this.receivedBy.get(picture.id) ?? 0) + 1);
    this.latest.set(picture.id, picture);
    this.pending.add(picture.id);
    if (!this.scheduled) {
      this.scheduled = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    for (const id of this.pending) {
      const picture = this.latest.get(id);
      if (!picture) continue;
      for (const watcher of this.watchers.get(id) ?? []) watcher(picture);
    }
    this.pending.clear();
  }
}
