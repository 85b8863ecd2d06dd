import { t } from "../i18n";
import { screenShares } from "../state/meeting";
import { backToStart, captionsOn, dismissNotice, layoutMode, meeting, panel, pickingScreen, pinned } from "../store";
import { settingsOpen } from "../settings/store";
import { Captions } from "./Captions";
import { ChatPanel } from "./ChatPanel";
import { Controls, useShortcuts } from "./Controls";
import { Grid } from "./Grid";
import { ParticipantsPanel } from "./ParticipantsPanel";
import { ReactionsShown } from "./Reactions";
import { SpeakerView } from "./SpeakerView";
import { ScreenPicker } from "./ScreenPicker";
import { Stage } from "./Stage";

export function MeetingView() {
  useShortcuts();
  const state = meeting.value;
  if (state.phase === "left") {
    return (
      <main class="ended">
        <p role="status">{t("left")}</p>
        <button type="button" onClick={backToStart} autofocus>
          {t("backToStart")}
        </button>
      </main>
    );
  }
  // Someone else's screen takes the stage; this user's own share shows as a preview when no one else shares.
  const remote = screenShares(state.members.filter((m) => !m.isLocal)).at(-1);
  const stage = remote
    ? { videoId: remote.track.sid, remote: true, label: `${t("screenOf")} ${remote.member.name}` }
    : state.screenSharing
      ? { videoId: "local:screen", remote: false, label: t("yourScreen") }
      : null;
  return (
    <div class="meeting">
      <header class="topbar">
        <h1>
          {t("meetingOf")} · {state.room || "…"}
        </h1>
        {state.phase === "reconnecting" && (
          <p class="status" role="status" data-status={state.phase}>
            {t("reconnecting")}
          </p>
        )}
      </header>
      {state.notices.length > 0 && (
        <ul class="notices" role="alert">
          {state.notices.map((n) => (
            <li key={n.id} data-notice={n.subject}>
              <strong>{n.kind === "device" ? `${t("deviceProblem")} · ${t(`device_${n.subject}`)}` : n.subject}</strong> {n.detail}
              {n.kind === "device" && (
                <button type="button" data-action="device-settings" onClick={() => (settingsOpen.value = true)}>
                  {t("chooseAnotherDevice")}
                </button>
              )}
              <button type="button" onClick={() => dismissNotice(n.id)} aria-label={t("close")}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="body">
        <main class={stage ? "main with-stage" : "main"}>
          {stage && <Stage key={stage.videoId} videoId={stage.videoId} remote={stage.remote} label={stage.label} />}
          {pinned.value || layoutMode.value === "speaker" ? (
            <SpeakerView state={state} />
          ) : (
            <Grid members={state.members} activeSpeakers={state.activeSpeakers} cameraOn={state.cameraOn} microphoneOn={state.microphoneOn} />
          )}
          {state.reactions.length > 0 && <ReactionsShown reactions={state.reactions} members={state.members} />}
          {captionsOn.value && state.captions.length > 0 && <Captions captions={state.captions} members={state.members} />}
        </main>
        {panel.value === "chat" && <ChatPanel chat={state.chat} members={state.members} />}
        {panel.value === "participants" && <ParticipantsPanel members={state.members} />}
      </div>
      <Controls />
      {pickingScreen.value && <ScreenPicker />}
    </div>
  );
}
