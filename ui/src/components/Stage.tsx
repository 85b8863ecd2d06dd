// A shared screen on stage: fitted to the stage or at its actual size (scrolling), and full screen.
import { useEffect, useState } from "preact/hooks";
import { getCurrentWindow } from "@tauri-apps/api/window";
import { t } from "../i18n";
import { Icon } from "./Icon";
import { ToggleButton, typing } from "./ToggleButton";
import { VideoCanvas } from "./VideoCanvas";

interface Props {
  videoId: string;
  remote: boolean;
  label: string;
}

export function Stage({ videoId, remote, label }: Props) {
  const [zoomed, setZoomed] = useState(false);
  const [fullscreen, setFullscreen] = useState(false);
  const toggleFullscreen = () => {
    const next = !fullscreen;
    setFullscreen(next);
    void getCurrentWindow()
      .setFullscreen(next)
      .catch(() => setFullscreen(!next));
  };
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (typing(e.target)) return;
      if (e.key.toLowerCase() === "f" && !e.ctrlKey && !e.altKey && !e.metaKey) {
        e.preventDefault();
        toggleFullscreen();
      }
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  });
  return (
    <section class={`stage${zoomed ? " zoomed" : ""}`} aria-label={label} data-stage={videoId}>
      <div class="stage-video">
        <VideoCanvas videoId={videoId} remote={remote} label={label} fit="contain" />
      </div>
      <div class="stage-tools">
        <button type="button" aria-pressed={zoomed} onClick={() => setZoomed(!zoomed)} data-control="zoom">
          {zoomed ? t("fit") : t("zoom")}
        </button>
        <ToggleButton pressed={fullscreen} label={[t("exitFullscreen"), t("fullscreen")]} control="fullscreen" onClick={toggleFullscreen}>
          <Icon name="fullscreen" />
        </ToggleButton>
      </div>
    </section>
  );
}
