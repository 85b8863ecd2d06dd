// Which display to share: a thumbnail of each (drawn from the picture server, like any video).
import { useEffect, useRef, useState } from "preact/hooks";
import { commands, type Screen } from "../bindings";
import { t } from "../i18n";
import { errorDetail, pickingScreen, shareScreen } from "../store";
import { useDialog } from "./useDialog";
import { VideoCanvas } from "./VideoCanvas";

export function ScreenPicker() {
  const [screens, setScreens] = useState<Screen[] | null>(null);
  const [error, setError] = useState("");
  const dialog = useRef<HTMLDivElement>(null);
  useDialog(dialog, () => (pickingScreen.value = false));
  useEffect(() => {
    void commands.listScreens().then((result) => {
      if (result.status === "ok") setScreens(result.data);
      else setError(errorDetail(result.error));
    });
  }, []);
  useEffect(() => dialog.current?.querySelector<HTMLButtonElement>("button[data-screen]")?.focus(), [screens]);
  return (
    <div class="dialog-backdrop">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="picker-title" ref={dialog}>
        <h2 id="picker-title">{t("chooseScreen")}</h2>
        {error && (
          <p class="error" role="alert">
            {t("error_device")} {error}
          </p>
        )}
        {screens === null && !error && <p role="status">{t("loading")}</p>}
        {screens?.length === 0 && <p role="status">{t("noScreens")}</p>}
        <ul class="screens">
          {screens?.map((s) => (
            <li key={s.index}>
              <button type="button" data-screen={s.index} onClick={() => void shareScreen(s.index)}>
                {s.thumbnail ? <VideoCanvas videoId={s.thumbnail} remote={false} label={s.name} fit="contain" /> : <div class="no-thumbnail" />}
                <span>
                  {s.name} · {s.width}×{s.height}
                </span>
              </button>
            </li>
          ))}
        </ul>
        <button type="button" onClick={() => (pickingScreen.value = false)}>
          {t("cancel")}
        </button>
      </div>
    </div>
  );
}
