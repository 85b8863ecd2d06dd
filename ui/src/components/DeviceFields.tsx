// The device pickers (camera, microphone, speaker), the microphone's level and the speaker test; the same
// fields on the pre-join screen and in the settings.
import { useState } from "preact/hooks";
import type { DeviceChoice } from "../bindings";
import { t } from "../i18n";
import { errorDetail } from "../store";
import { devices, microphoneLevel, previewProblems, saveSettings, settings, testSpeaker } from "../settings/store";

function Picker(props: { field: "camera" | "microphone" | "speaker"; choices: DeviceChoice[]; none: string }) {
  const chosen = settings.value?.[props.field] ?? "";
  const problem = previewProblems.value[props.field];
  return (
    <label>
      {t(props.field)}
      {props.choices.length === 0 ? (
        <span class="hint" data-none={props.field}>
          {props.none}
        </span>
      ) : (
        <select
          name={props.field}
          value={chosen}
          onChange={(e) => void saveSettings({ [props.field]: (e.target as HTMLSelectElement).value || null })}
        >
          <option value="">{t("systemDefault")}</option>
          {props.choices.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      )}
      {problem && props.choices.length > 0 && (
        <span class="field-error" role="alert" data-problem={props.field}>
          {t("deviceProblem")} : {problem}
        </span>
      )}
    </label>
  );
}

export function DeviceFields({ meter }: { meter: boolean }) {
  const [testing, setTesting] = useState(false);
  const [speakerError, setSpeakerError] = useState("");
  const list = devices.value;
  if (!list) return <p role="status">{t("loading")}</p>;
  const test = async () => {
    setTesting(true);
    setSpeakerError("");
    const error = await testSpeaker();
    setTesting(false);
    if (error) setSpeakerError(errorDetail(error));
  };
  const level = Math.round(microphoneLevel.value * 100);
  return (
    <fieldset class="devices">
      <legend>{t("devices")}</legend>
      <Picker field="camera" choices={list.cameras} none={t("noCamera")} />
      <Picker field="microphone" choices={list.microphones} none={t("noMicrophone")} />
      {meter && list.microphones.length > 0 && (
        <div class="meter" role="meter" aria-label={t("microphoneLevel")} aria-valuemin={0} aria-valuemax={100} aria-valuenow={level} data-level={level}>
          <div class="meter-fill" style={{ width: `${level}%` }} />
        </div>
      )}
      <Picker field="speaker" choices={list.speakers} none={t("noSpeaker")} />
      {list.speakers.length > 0 && (
        <button type="button" data-action="test-speaker" disabled={testing} onClick={() => void test()}>
          {testing ? t("testingSpeaker") : t("testSpeaker")}
        </button>
      )}
      {speakerError && (
        <span class="field-error" role="alert" data-problem="speaker-test">
          {t("deviceProblem")} : {speakerError}
        </span>
      )}
      {list.problems.map((p) => (
        <span key={p.device} class="field-error" role="alert" data-problem={p.device}>
          {t(`device_${p.device}`)} : {p.message}
        </span>
      ))}
    </fieldset>
  );
}
