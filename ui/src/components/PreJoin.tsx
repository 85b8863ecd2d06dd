// Before joining: a name, the camera's picture, the microphone's level, the devices and whether they are
// on at the start, then the local meeting or a LiveKit server. Choices are kept in the user's settings.
import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { errorDetail, join, joinError, meeting } from "../store";
import { refreshDevices, saveSettings, settings, settingsOpen, startPreview, stopPreview } from "../settings/store";
import { DeviceFields } from "./DeviceFields";
import { LanguagePicker } from "./SettingsDialog";
import { VideoCanvas } from "./VideoCanvas";

const SELF_VIEW = "local:camera";

export function PreJoin() {
  const current = settings.value;
  const [name, setName] = useState(current?.display_name ?? "");
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  useEffect(() => {
    void refreshDevices();
    return () => void stopPreview();
  }, []);
  const cameraOn = current?.camera_on_at_start ?? false;
  const microphoneOn = current?.microphone_on_at_start ?? true;
  // The preview follows the chosen devices; the microphone's level shows even when it starts muted.
  useEffect(() => {
    if (current) void startPreview(cameraOn, true);
  }, [cameraOn, current?.camera, current?.microphone, current?.send_quality]);
  const busy = meeting.value.phase === "joining";
  const error = joinError.value;
  const start = async (target: Parameters<typeof join>[0]) => {
    await saveSettings({ display_name: name.trim() });
    void join(target, name.trim(), cameraOn, microphoneOn);
  };
  return (
    <main class="prejoin">
      <header>
        <h1>{t("appName")}</h1>
        <LanguagePicker />
      </header>
      {error && (
        <p class="error" role="alert" data-error={error.kind}>
          <strong>{t(`error_${error.kind}`)}</strong> {errorDetail(error)}
        </p>
      )}
      <section aria-labelledby="prejoin-title">
        <h2 id="prejoin-title">{t("prejoinTitle")}</h2>
        <div class="preview" data-preview={cameraOn ? "camera" : "off"}>
          {cameraOn ? <VideoCanvas videoId={SELF_VIEW} remote={false} label={t("camera")} fit="contain" /> : <p>{t("cameraPreviewOff")}</p>}
        </div>
        <label>
          {t("displayName")}
          <input name="name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} autoComplete="name" maxLength={64} required />
        </label>
        <label class="check">
          <input type="checkbox" name="camera" checked={cameraOn} onChange={(e) => void saveSettings({ camera_on_at_start: (e.target as HTMLInputElement).checked })} />
          {t("cameraOnAtStart")}
        </label>
        <label class="check">
          <input
            type="checkbox"
            name="microphone"
            checked={microphoneOn}
            onChange={(e) => void saveSettings({ microphone_on_at_start: (e.target as HTMLInputElement).checked })}
          />
          {t("microphoneOnAtStart")}
        </label>
        <DeviceFields meter />
        <button type="button" data-action="open-settings" onClick={() => (settingsOpen.value = true)}>
          {t("settingsTitle")}
        </button>
        <button type="button" class="primary" data-action="start-local" disabled={busy || !name.trim()} onClick={() => void start({ kind: "local" })}>
          {busy ? t("joining") : t("startLocal")}
        </button>
        <p class="hint">{t("startLocalHint")}</p>
      </section>
      <form
        aria-labelledby="server-title"
        onSubmit={(e) => {
          e.preventDefault();
          void start({ kind: "server", url, token });
        }}
      >
        <h2 id="server-title">{t("orJoinServer")}</h2>
        <label>
          {t("serverUrl")}
          <input name="url" value={url} onInput={(e) => setUrl((e.target as HTMLInputElement).value)} placeholder="wss://" spellcheck={false} />
        </label>
        <label>
          {t("token")}
          <input name="token" type="password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} spellcheck={false} />
        </label>
        <button type="submit" disabled={busy || !url.trim() || !token.trim()}>
          {t("join")}
        </button>
      </form>
    </main>
  );
}
