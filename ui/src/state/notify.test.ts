import { describe, expect, it } from "vitest";
import type { MeetingEvent, Participant } from "../bindings";
import { language } from "../i18n";
import { apply, initialState, type MeetingState } from "./meeting";
import { notificationsFor } from "./notify";

language.value = "en";

function person(identity: string, name: string, attributes: Record<string, string> = {}): Participant {
  return { sid: `PA_${identity}`, identity, name, metadata: "", attributes, tracks: [] };
}

/** The notifications each event would raise, after the events before it. */
function notify(...events: MeetingEvent[]): string[] {
  let state: MeetingState = initialState();
  const shown: string[] = [];
  for (const e of events) {
    const next = apply(state, e, 0);
    shown.push(...notificationsFor(state, next, e).map((n) => `${n.title} | ${n.body}`));
    state = next;
  }
  return shown;
}

const joined: MeetingEvent = {
  type: "session",
  event: { event: "joined", room: "Salle 4", local: person("me", "Moi"), participants: [person("bot", "Camille Martin")] },
};
const chat = (id: string, from: string, text: string): MeetingEvent => ({
  type: "session",
  event: { event: "chat", id, from, text, timestamp: 0 },
});

describe("desktop notifications", () => {
  it("tell of a chat message from someone else, once, and not of one's own", () => {
    expect(notify(joined, chat("1", "bot", "Bonjour"), chat("1", "bot", "Bonjour"), chat("2", "me", "Salut"))).toEqual([
      "New message from Camille Martin | Bonjour",
    ]);
  });

  it("cut a long message", () => {
    const [shown] = notify(joined, chat("1", "bot", "x".repeat(500)));
    expect(shown.length).toBeLessThan(200);
    expect(shown.endsWith("…")).toBe(true);
  });

  it("tell of someone joining, not of those already there when this user joined", () => {
    const louis: MeetingEvent = { type: "session", event: { event: "participant_joined", participant: person("louis", "Louis Bernard") } };
    expect(notify(joined, louis, louis)).toEqual(["Salle 4 | Louis Bernard joined the meeting"]);
  });

  it("tell of a hand going up, not of it staying up or of this user's own", () => {
    const hand = (identity: string, name: string, raised: boolean): MeetingEvent => ({
      type: "session",
      event: {
        event: "participant_updated",
        participant: person(identity, name, raised ? { handRaisedAt: "2026-11-28T10:00:00Z" } : {}),
        changed_attributes: ["handRaisedAt"],
        metadata_changed: false,
        tracks_changed: false,
      },
    });
    expect(notify(joined, hand("bot", "Camille Martin", true), hand("bot", "Camille Martin", true), hand("me", "Moi", true))).toEqual([
      "Salle 4 | Camille Martin raises their hand",
    ]);
  });
});
