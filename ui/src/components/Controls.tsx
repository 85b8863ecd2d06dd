// The meeting's controls, and their keyboard shortcuts (ignored while typing in a field): M microphone,
// C camera, hold V to talk while muted, E share the screen, H raise or lower the hand, T chat, S captions, P participants, F full
// screen (on a shared screen), Ctrl+Q leave.
import { useEffect } from "preact/hooks";
import { t } from "../i18n";
import { Icon } from "./Icon";
import { captionsOn, leave, meeting, panel, setDevice, toggleHand, toggleScreenShare, togglePanel } from "../store";

function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

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
  return (
    <nav class="controls" aria-label="Controls">
      <button
        type="button"
        class={state.microphoneOn ? "on" : "off"}
        aria-pressed={state.microphoneOn}
        aria-label={state.microphoneOn ? t("microphoneOn") : t("microphoneOff")}
        title={state.microphoneOn ? t("microphoneOn") : t("microphoneOff")}
        data-control="microphone"
        onClick={() => void setDevice("microphone", !state.microphoneOn)}
      >
        <Icon name={state.microphoneOn ? "microphone" : "microphoneOff"} />
      </button>
      <button
        type="button"
        class={state.cameraOn ? "on" : "off"}
        aria-pressed={state.cameraOn}
        aria-label={state.cameraOn ? t("cameraOn") : t("cameraOff")}
        title={state.cameraOn ? t("cameraOn") : t("cameraOff")}
        data-control="camera"
        onClick={() => void setDevice("camera", !state.cameraOn)}
      >
        <Icon name={state.cameraOn ? "camera" : "cameraOff"} />
      </button>
      <button
        type="button"
        class={state.screenSharing ? "sharing" : ""}
        aria-pressed={state.screenSharing}
        aria-label={state.screenSharing ? t("stopShare") : t("shareScreen")}
        title={state.screenSharing ? t("stopShare") : t("shareScreen")}
        data-control="screen"
        onClick={toggleScreenShare}
      >
        <Icon name="screen" />
      </button>
      <button
        type="button"
        aria-pressed={handRaised}
        aria-label={handRaised ? t("lowerHand") : t("raiseHand")}
        title={handRaised ? t("lowerHand") : t("raiseHand")}
        data-control="hand"
        onClick={() => void toggleHand()}
      >
        <Icon name="hand" />
      </button>
      <button
        type="button"
        aria-pressed={captionsOn.value}
        aria-label={captionsOn.value ? t("captionsOn") : t("captionsOff")}
        title={captionsOn.value ? t("captionsOn") : t("captionsOff")}
        data-control="captions"
        onClick={() => (captionsOn.value = !captionsOn.value)}
      >
        <Icon name="captions" />
      </button>
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
      <button type="button" class="leave" aria-label={t("leave")} title={t("leave")} data-control="leave" onClick={() => void leave()}>
        <Icon name="leave" /> {t("leave").replace(/ \(.*\)$/, "")}
      </button>
    </nav>
  );
}
