// The meeting's controls, and their keyboard shortcuts (ignored while typing in a field): M microphone,
// C camera, hold V to talk while muted, E share the screen, H raise or lower the hand, T chat, S captions,
// P participants, L grid or speaker view, R reactions, "," settings, Ctrl+Q leave (F, full screen, belongs to the stage).
import { useEffect } from "preact/hooks";
import { t } from "../i18n";
import { Icon } from "./Icon";
import { ToggleButton, typing } from "./ToggleButton";
import { settingsOpen } from "../settings/store";
import {
  captionsOn,
  layoutMode,
  leave,
  meeting,
  panel,
  pinned,
  reactionsOpen,
  setDevice,
  toggleHand,
  toggleLayout,
  toggleScreenShare,
  togglePanel,
} from "../store";
import { ReactionBar } from "./Reactions";

export function useShortcuts(): void {
  useEffect(() => {
    let pushToTalk = false;
    const down = (e: KeyboardEvent) => {
      if (e.ctrlKey && e.key.toLowerCase() === "q") {
        e.preventDefault();
        void leave();
        return;
      }
      if (typing(e.target) || e.ctrlKey || e.altKey || e.metaKey) return;
      const state = meeting.value;
      switch (e.key.toLowerCase()) {
        case "m":
          void setDevice("microphone", !state.microphoneOn);
          break;
        case "c":
          void setDevice("camera", !state.cameraOn);
          break;
        case "v":
          if (!e.repeat && !state.microphoneOn) {
            pushToTalk = true;
            void setDevice("microphone", true);
          }
          break;
        case "t":
          togglePanel("chat");
          break;
        case "e":
          toggleScreenShare();
          break;
        case "h":
          void toggleHand();
          break;
        case "p":
          togglePanel("participants");
          break;
        case "s":
          captionsOn.value = !captionsOn.value;
          break;
        case "l":
          toggleLayout();
          break;
        case "r":
          reactionsOpen.value = !reactionsOpen.value;
          break;
        case ",":
          settingsOpen.value = true;
          break;
        default:
          return;
      }
      e.preventDefault();
    };
    const up = (e: KeyboardEvent) => {
      if (e.key.toLowerCase() === "v" && pushToTalk) {
        pushToTalk = false;
        void setDevice("microphone", false);
      }
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
    };
  }, []);
}

export function Controls() {
  const state = meeting.value;
  const handRaised = state.members.some((m) => m.isLocal && m.handRaised);
  const speakerShown = pinned.value !== null || layoutMode.value === "speaker";
  return (
    <nav class="controls" aria-label="Controls">
      <ToggleButton
        pressed={state.microphoneOn}
        class={state.microphoneOn ? "on" : "off"}
        label={[t("microphoneOn"), t("microphoneOff")]}
        control="microphone"
        onClick={() => void setDevice("microphone", !state.microphoneOn)}
      >
        <Icon name={state.microphoneOn ? "microphone" : "microphoneOff"} />
      </ToggleButton>
      <ToggleButton
        pressed={state.cameraOn}
        class={state.cameraOn ? "on" : "off"}
        label={[t("cameraOn"), t("cameraOff")]}
        control="camera"
        onClick={() => void setDevice("camera", !state.cameraOn)}
      >
        <Icon name={state.cameraOn ? "camera" : "cameraOff"} />
      </ToggleButton>
      <ToggleButton
        pressed={state.screenSharing}
        class={state.screenSharing ? "sharing" : ""}
        label={[t("stopShare"), t("shareScreen")]}
        control="screen"
        onClick={toggleScreenShare}
      >
        <Icon name="screen" />
      </ToggleButton>
      <ToggleButton pressed={handRaised} label={[t("lowerHand"), t("raiseHand")]} control="hand" onClick={() => void toggleHand()}>
        <Icon name="hand" />
      </ToggleButton>
      <div class="reactions-control">
        {reactionsOpen.value && <ReactionBar />}
        <ToggleButton pressed={reactionsOpen.value} label={[t("reactions"), t("reactions")]} control="reactions" onClick={() => (reactionsOpen.value = !reactionsOpen.value)}>
          <Icon name="smile" />
        </ToggleButton>
      </div>
      <ToggleButton
        pressed={captionsOn.value}
        label={[t("captionsOn"), t("captionsOff")]}
        control="captions"
        onClick={() => (captionsOn.value = !captionsOn.value)}
      >
        <Icon name="captions" />
      </ToggleButton>
      <button
        type="button"
        aria-pressed={panel.value === "chat"}
        aria-label={state.unread > 0 ? `${t("chat")}, ${state.unread} ${t("unread")}` : t("chat")}
        title={t("chat")}
        data-control="chat"
        onClick={() => togglePanel("chat")}
      >
        <Icon name="chat" />
        {state.unread > 0 && (
          <span class="unread" data-unread={state.unread}>
            {state.unread}
          </span>
        )}
      </button>
      <button
        type="button"
        aria-pressed={panel.value === "participants"}
        aria-label={t("participants")}
        title={t("participants")}
        data-control="participants"
        onClick={() => togglePanel("participants")}
      >
        <Icon name="people" /> {state.members.length}
      </button>
      <button
        type="button"
        aria-label={speakerShown ? t("layoutGrid") : t("layoutSpeaker")}
        title={speakerShown ? t("layoutGrid") : t("layoutSpeaker")}
        data-control="layout"
        data-layout={speakerShown ? "speaker" : "grid"}
        onClick={toggleLayout}
      >
        <Icon name={speakerShown ? "grid" : "speakerView"} />
      </button>
      <button type="button" aria-label={t("settings")} title={t("settings")} data-control="settings" onClick={() => (settingsOpen.value = true)}>
        <Icon name="settings" />
      </button>
      <button type="button" class="leave" aria-label={t("leave")} title={t("leave")} data-control="leave" onClick={() => void leave()}>
        <Icon name="leave" /> {t("leave").replace(/ \(.*\)$/, "")}
      </button>
    </nav>
  );
}
