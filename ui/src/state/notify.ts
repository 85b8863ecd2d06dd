// What deserves a desktop notification when the window is not in front: a chat message from someone else,
// a hand going up, someone joining. Pure, so that it is tested without a desktop.
import type { MeetingEvent } from "../bindings";
import { t } from "../i18n";
import { nameOf, type MeetingState } from "./meeting";

export interface Notification {
  title: string;
  body: string;
}

/** Chat text longer than this is cut in the notification (the whole message is in the chat panel). */
const BODY_CHARS = 140;

export function notificationsFor(before: MeetingState, after: MeetingState, update: MeetingEvent): Notification[] {
  if (update.type !== "session") return [];
  const event = update.event;
  switch (event.event) {
    case "chat": {
      const added = after.chat.length > before.chat.length || after.chat.at(-1)?.id !== before.chat.at(-1)?.id;
      if (!added || event.from === after.localIdentity) return [];
      const text = event.text.length > BODY_CHARS ? `${event.text.slice(0, BODY_CHARS - 1)}…` : event.text;
      return [{ title: `${t("notifyChat")} ${nameOf(after.members, event.from)}`, body: text }];
    }
    case "participant_joined":
      if (before.members.some((m) => m.identity === event.participant.identity)) return [];
      return [{ title: after.room, body: `${event.participant.name || event.participant.identity} ${t("notifyJoined")}` }];
    case "participant_updated": {
      const identity = event.participant.identity;
      const was = before.members.find((m) => m.identity === identity);
      const now = after.members.find((m) => m.identity === identity);
      if (!now || now.isLocal || !now.handRaised || was?.handRaised) return [];
      return [{ title: after.room, body: `${now.name} ${t("notifyHand")}` }];
    }
    default:
      return [];
  }
}
