import { describe, expect, it } from "vitest";
import type { MeetingEvent, Participant } from "../bindings";
import {
  addReaction,
  apply,
  CAPTIONS_SHOWN,
  expireReaction,
  featured,
  initialState,
  REACTIONS_SHOWN,
  screenShares,
  setChatOpen,
  type MeetingState,
} from "./meeting";

function person(identity: string, name: string, tracks: Participant["tracks"] = []): Participant {
  return { sid: `PA_${identity}`, identity, name, metadata: "", attributes: {}, tracks };
}

const mic = (muted: boolean) => ({ sid: "TR_mic", kind: "audio", source: "microphone", muted, width: 0, height: 0 });

function run(...events: MeetingEvent[]): MeetingState {
  return events.reduce((s, e) => apply(s, e, 0), initialState());
}

const joined: MeetingEvent = {
  type: "session",
  event: { event: "joined", room: "salle", local: person("me", "Moi"), participants: [person("bot", "Camille")] },
};

describe("the meeting state", () => {
  it("knows who is there after joining, local first", () => {
    const s = run(joined);
    expect(s.phase).toBe("joined");
    expect(s.members.map((m) => [m.identity, m.isLocal])).toEqual([
      ["me", true],
      ["bot", false],
    ]);
  });

  it("counts unread messages only while the chat is closed, and shows a message once", () => {
    const chat = (id: string, from: string): MeetingEvent => ({
      type: "session",
      event: { event: "chat", id, from, text: "bonjour", timestamp: 1 },
    });
    let s = run(joined, chat("C1", "bot"), chat("C1", "bot"), chat("C2", "me"));
    expect(s.chat.map((c) => c.id)).toEqual(["C1", "C2"]);
    expect(s.unread).toBe(1);
    s = setChatOpen(s, true);
    expect(s.unread).toBe(0);
    s = apply(s, chat("C3", "bot"));
    expect(s.unread).toBe(0);
  });

  it("replaces an interim caption by its final text and keeps the last few", () => {
    const caption = (segment: string, text: string, final: boolean): MeetingEvent => ({
      type: "session",
      event: { event: "caption", speaker: "bot", track_sid: "TR_mic", segment_id: segment, text, final },
    });
    let s = run(joined, caption("S1", "Bonjour", false), caption("S1", "Bonjour à tous", true));
    expect(s.captions).toEqual([{ segmentId: "S1", speaker: "bot", text: "Bonjour à tous", final: true }]);
    for (let i = 2; i < 10; i += 1) s = apply(s, caption(`S${i}`, "…", true));
    expect(s.captions).toHaveLength(CAPTIONS_SHOWN);
    expect(s.captions.at(-1)?.segmentId).toBe("S9");
  });

  it("follows a remote microphone being muted, and a screen share starting", () => {
    const update = (tracks: Participant["tracks"]): MeetingEvent => ({
      type: "session",
      event: { event: "participant_updated", participant: person("bot", "Camille", tracks), changed_attributes: [], metadata_changed: false, tracks_changed: true },
    });
    let s = run(joined, update([mic(true)]));
    expect(s.members[1].tracks[0].muted).toBe(true);
    s = apply(s, update([mic(true), { sid: "TR_screen", kind: "video", source: "screen_share", muted: false, width: 1920, height: 1080 }]));
    expect(screenShares(s.members).map((x) => x.track.sid)).toEqual(["TR_screen"]);
  });

  it("says when the connection is being recovered and when a device failed", () => {
    let s = run(joined, { type: "session", event: { event: "reconnecting" } });
    expect(s.phase).toBe("reconnecting");
    s = apply(s, { type: "session", event: { event: "reconnected" } });
    expect(s.phase).toBe("joined");
    s = apply(s, { type: "device_problem", device: "camera", message: "no camera found on this computer" });
    expect(s.cameraOn).toBe(false);
    expect(s.notices.map((n) => [n.kind, n.subject, n.detail])).toEqual([["device", "camera", "no camera found on this computer"]]);
  });

  it("forgets who left", () => {
    const s = run(joined, { type: "session", event: { event: "participant_left", participant: person("bot", "Camille"), reason: "CLIENT_INITIATED" } });
    expect(s.members.map((m) => m.identity)).toEqual(["me"]);
  });
});

describe("the speaker view's choice", () => {
  const speakers = (...identities: string[]): MeetingEvent => ({ type: "session", event: { event: "active_speakers", identities } });
  const louis: MeetingEvent = { type: "session", event: { event: "participant_joined", participant: person("louis", "Louis") } };

  it("shows the last other participant who spoke, and keeps them while nobody speaks", () => {
    let s = run(joined, louis);
    expect(featured(s, null)?.identity).toBe("bot");
    s = apply(s, speakers("me", "louis"), 0);
    expect(featured(s, null)?.identity).toBe("louis");
    s = apply(s, speakers("me"), 0);
    expect(featured(s, null)?.identity).toBe("louis");
  });

  it("shows the pinned participant whoever speaks, and falls back when they leave", () => {
    let s = run(joined, louis, speakers("louis"));
    expect(featured(s, "bot")?.identity).toBe("bot");
    s = apply(s, { type: "session", event: { event: "participant_left", participant: person("bot", "Camille"), reason: "" } } as MeetingEvent, 0);
    expect(featured(s, "bot")?.identity).toBe("louis");
  });
});

describe("reactions", () => {
  it("show with their sender until they expire, at most a few at once", () => {
    let s = apply(run(joined), { type: "session", event: { event: "reaction", from: "bot", emoji: "👏" } }, 0);
    expect(s.reactions.map((r) => [r.from, r.emoji])).toEqual([["bot", "👏"]]);
    const first = s.reactions[0].id;
    for (let i = 0; i < REACTIONS_SHOWN + 2; i += 1) s = addReaction(s, "me", "🎉");
    expect(s.reactions).toHaveLength(REACTIONS_SHOWN);
    expect(s.reactions.some((r) => r.id === first)).toBe(false);
    const kept = s.reactions[0].id;
    s = expireReaction(s, kept);
    expect(s.reactions.some((r) => r.id === kept)).toBe(false);
    expect(s.reactions).toHaveLength(REACTIONS_SHOWN - 1);
  });
});
