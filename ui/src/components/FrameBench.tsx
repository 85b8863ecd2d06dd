// The window's side of `colloque --bench-frames`: nine tiles and a screen share drawn with WebGL2 from the
// transport under test, every picture counted as received and as drawn; the counts go back at the end.
import { useEffect, useRef } from "preact/hooks";
import { Channel, invoke } from "@tauri-apps/api/core";
import { commands, type BenchPlan, type VideoCount } from "../bindings";
import { parsePicture, type Picture } from "../video/frame";
import { PictureClient } from "../video/client";
import { YuvRenderer } from "../video/renderer";

function bytesOf(data: unknown): ArrayBuffer | null {
  if (data instanceof ArrayBuffer) return data;
  if (data instanceof Uint8Array) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  if (Array.isArray(data)) return new Uint8Array(data).buffer;
  return null;
}

export function FrameBench({ plan }: { plan: BenchPlan }) {
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const counts = new Map(plan.videos.map((v) => [v.id, { received: 0, drawn: 0 }]));
    const renderers = new Map<string, YuvRenderer>();
    root.current?.querySelectorAll<HTMLCanvasElement>("canvas[data-video]").forEach((c) => {
      renderers.set(c.dataset.video ?? "", new YuvRenderer(c));
    });
    const draw = (p: Picture) => {
      const count = counts.get(p.id);
      const renderer = renderers.get(p.id);
      if (!count || !renderer) return;
      renderer.draw(p);
      count.drawn += 1;
    };
    let stop = () => {};
    if (plan.transport === "websocket") {
      void commands.frameEndpoint().then((endpoint) => {
        const client = new PictureClient(endpoint);
        client.connect();
        const unwatch = plan.videos.map((v) => client.watch(v.id, draw));
        stop = () => {
          for (const [id, n] of client.receivedBy) {
            const count = counts.get(id);
            if (count) count.received = n;
          }
          unwatch.forEach((u) => u());
          client.close();
        };
        void commands.benchStartWebsocket();
      });
    } else {
      const latest = new Map<string, Picture>();
      let scheduled = false;
      const channel = new Channel<unknown>();
      channel.onmessage = (data) => {
        const buffer = bytesOf(data);
        if (!buffer) return;
        const picture = parsePicture(buffer);
        const count = counts.get(picture.id);
        if (count) count.received += 1;
        latest.set(picture.id, picture);
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(() => {
            scheduled = false;
            latest.forEach(draw);
            latest.clear();
          });
        }
      };
      void invoke("bench_start_ipc", { pictures: channel });
    }
    const timer = setTimeout(() => {
      stop();
      const report: VideoCount[] = plan.videos.map((v) => ({ id: v.id, ...(counts.get(v.id) ?? { received: 0, drawn: 0 }) }));
      void commands.benchFinished(report);
    }, (plan.seconds + 0.5) * 1000);
    return () => clearTimeout(timer);
  }, [plan]);
  const tiles = plan.videos.filter((v) => v.height < 1080);
  const screen = plan.videos.find((v) => v.height >= 1080);
  return (
    <main class="bench" ref={root} aria-label={`Picture path benchmark: ${plan.transport}`}>
      <div class="bench-tiles">
        {tiles.map((v) => (
          <canvas key={v.id} data-video={v.id} class="video" />
        ))}
      </div>
      {screen && <canvas data-video={screen.id} class="video bench-screen" />}
    </main>
  );
}
