// The settings: devices, video quality both ways, noise suppression, language. Every change is kept at
// once (and applied to the meeting, if one is running).
import { useEffect, useRef } from "preact/hooks";
import type { Language, VideoQuality } from "../bindings";
import { t } from "../i18n";
import { errorDetail } from "../store";
import { refreshDevices, saveSettings, settings, settingsError, settingsOpen } from "../settings/store";
import { DeviceFields } from "./DeviceFields";
import { useDialog } from "./useDialog";

const QUALITIES: VideoQuality[] = ["high", "standard", "low"];

export function SettingsDialog() {
  const dialog = useRef<HTMLDivElement>(null);
  const close = () => (settingsOpen.value = false);
  useDialog(dialog, close);
  useEffect(() => {
    void refreshDevices();
    dialog.current?.querySelector<HTMLElement>("select, button")?.focus();
  }, []);
  const current = settings.value;
  const error = settingsError.value;
  if (!current) return null;
  const quality = (field: "send_quality" | "receive_quality") => (
    <label>
      {t(field === "send_quality" ? "sendQuality" : "receiveQuality")}
      <select name={field} value={current[field]} onChange={(e) => void saveSettings({ [field]: (e.target as HTMLSelectElement).value as VideoQuality })}>
        {QUALITIES.map((q) => (
          <option key={q} value={q}>
            {t(`quality_${q}`)}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="dialog-backdrop">
      <div class="dialog settings" role="dialog" aria-modal="true" aria-labelledby="settings-title" ref={dialog}>
        <h2 id="settings-title">{t("settingsTitle")}</h2>
        {error && (
          <p class="error" role="alert" data-error={error.kind}>
            <strong>{t(`error_${error.kind}`)}</strong> {errorDetail(error)}
          </p>
        )}
        <DeviceFields meter={false} />
        {quality("send_quality")}
        {quality("receive_quality")}
        <label class="check">
          <input
            type="checkbox"
            name="noise_suppression"
            checked={current.noise_suppression}
            onChange={(e) => void saveSettings({ noise_suppression: (e.target as HTMLInputElement).checked })}
          />
          {t("noiseSuppression")}
        </label>
        <LanguagePicker />
        <button type="button" data-action="close-settings" onClick={close}>
          {t("close")}
        </button>
      </div>
    </div>
  );
}

export function LanguagePicker() {
  return (
    <label class="language">
      {t("language")}{" "}
      <select
        name="language"
        value={settings.value?.language ?? ""}
        onChange={(e) => void saveSettings({ language: ((e.target as HTMLSelectElement).value || null) as Language | null })}
      >
        <option value="">{t("languageSystem")}</option>
        <option value="fr">Français</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}
