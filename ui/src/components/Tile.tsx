import { t } from "../i18n";
import { Icon } from "./Icon";
import { trackOf, type Member } from "../state/meeting";
import { togglePin } from "../store";
import { VideoCanvas } from "./VideoCanvas";

interface Props {
  member: Member;
  speaking: boolean;
  width: number;
  height: number;
  cameraOn: boolean;
  microphoneOn: boolean;
  /** This tile's participant is pinned. */
  pinned?: boolean;
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
}

export function Tile({ member, speaking, width, height, cameraOn, microphoneOn, pinned = false }: Props) {
  const camera = trackOf(member, "camera");
  const microphone = trackOf(member, "microphone");
  // This user's own state is known here first (the server's echo of it comes later).
  const micMuted = member.isLocal ? !microphoneOn : !microphone || microphone.muted;
  const videoId = member.isLocal ? (cameraOn ? "local:camera" : null) : camera && !camera.muted ? camera.sid : null;
  const name = member.isLocal ? `${member.name} (${t("you")})` : member.name;
  const style = { width: `${width}px`, height: `${height}px` };
  return (
    <figure
      class={`tile${speaking ? " speaking" : ""}`}
      style={style}
      data-identity={member.identity}
      aria-label={[name, micMuted ? t("muted") : "", member.handRaised ? t("handRaised") : "", speaking ? t("speaking") : "", pinned ? t("pinned") : ""]
        .filter(Boolean)
        .join(", ")}
    >
      {videoId ? (
        <VideoCanvas videoId={videoId} remote={!member.isLocal} label={name} />
      ) : (
        <div class="avatar" aria-hidden="true">
          <span>{initials(member.name)}</span>
        </div>
      )}
      <button
        type="button"
        class={`pin${pinned ? " pinned" : ""}`}
        aria-pressed={pinned}
        aria-label={`${pinned ? t("unpin") : t("pin")} ${member.name}`}
        title={pinned ? t("unpin") : t("pin")}
        data-action="pin"
        onClick={() => togglePin(member.identity)}
      >
        <Icon name="pin" size={16} />
      </button>
      <figcaption class="tile-name">
        {member.handRaised && (
          <span class="badge hand" data-badge="hand" title={t("handRaised")}>
            <Icon name="hand" size={14} />
          </span>
        )}
        {micMuted && (
          <span class="badge muted" data-badge="muted" title={t("muted")}>
            <Icon name="microphoneOff" size={14} />
          </span>
        )}
        <span>{name}</span>
      </figcaption>
    </figure>
  );
}
