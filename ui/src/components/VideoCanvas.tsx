// One video drawn with WebGL2 from the pictures the Rust side sends. A remote video tells the Rust side how
// large it is drawn (so the server sends the layer that fits) and that it is no longer drawn when it goes.
import { useEffect, useRef } from "preact/hooks";
import { pictureClient, showVideo } from "../store";
import { RendererError, YuvRenderer } from "../video/renderer";

interface Props {
  /** Track sid, or "local:camera". */
  videoId: string;
  remote: boolean;
  label: string;
  fit?: "cover" | "contain";
}

/** Size changes are told at most this often. */
const RESIZE_DEBOUNCE_MS = 250;

export function VideoCanvas({ videoId, remote, label, fit = "cover" }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    let renderer: YuvRenderer;
    try {
      renderer = new YuvRenderer(element);
    } catch (e) {
      element.dataset.error = e instanceof RendererError ? e.message : String(e);
      return;
    }
    let stop = () => {};
    let cancelled = false;
    void pictureClient().then((client) => {
      if (cancelled) return;
      stop = client.watch(videoId, (picture) => {
        renderer.draw(picture);
        element.dataset.drawn = String(renderer.drawn);
      });
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver(() => {
      if (!remote) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const dpr = window.devicePixelRatio || 1;
        void showVideo(videoId, element.clientWidth * dpr, element.clientHeight * dpr);
      }, RESIZE_DEBOUNCE_MS);
    });
    observer.observe(element);
    return () => {
      cancelled = true;
      stop();
      clearTimeout(timer);
      observer.disconnect();
      if (remote) void showVideo(videoId, 0, 0);
    };
  }, [videoId, remote]);
  return <canvas ref={canvas} class={`video video-${fit}`} role="img" aria-label={label} data-video={videoId} />;
}
