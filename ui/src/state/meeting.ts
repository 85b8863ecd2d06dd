// The meeting as the window shows it: a pure function of the events the Rust side sends (apply), so that
// it can be tested without a window. Components read it through the `meeting` signal.
import type { Event, MeetingEvent, Participant, PublishedTrack } from "../bindings";

export type Phase = "idle" | "joining" | "joined" | "reconnecting" | "left";

export interface Member {
  sid: string;
  identity: string;
  name: string;
  isLocal: boolean;
  tracks: PublishedTrack[];
  handRaised: boolean;
  joinedAt: number;
}

export interface ChatMessage {
  id: string;
  from: string;
  text: string;
  timestamp: number;
  mine: boolean;
}

export interface Caption {
  segmentId: string;
  speaker: string;
  text: string;
  final: boolean;
}

export interface Notice {
  id: number;
  kind: "device" | "error" | "info";
  /** Which device or what failed (a translation key's subject). */
  subject: string;
  detail: string;
}

export interface Reaction {
  id: number;
  /** Identity of the sender. */
  from: string;
  emoji: string;
}

export interface MeetingState {
  phase: Phase;
  room: string;
  localIdentity: string;
  /** By identity, in arrival order. */
  members: Member[];
  chat: ChatMessage[];
  unread: number;
  chatOpen: boolean;
  /** The latest captions, oldest first. */
  captions: Caption[];
  activeSpeakers: string[];
  /** The last other participant who spoke (the speaker view shows them while nobody speaks). */
  lastSpeaker: string;
  /** Reactions on screen, oldest first. */
  reactions: Reaction[];
  microphoneOn: boolean;
  cameraOn: boolean;
  /** This user shares a screen. */
  screenSharing: boolean;
  notices: Notice[];
  endedReason: string;
}

/** Reactions on screen at most (a burst of them scrolls the oldest away). */
export const REACTIONS_SHOWN = 8;
/** Captions kept on screen at most. */
export const CAPTIONS_SHOWN = 3;
/** Chat messages kept at most. */
const CHAT_KEPT = 500;

export function initialState(): MeetingState {
  return {
    phase: "idle",
    room: "",
    localIdentity: "",
    members: [],
    chat: [],
    unread: 0,
    chatOpen: false,
    captions: [],
    activeSpeakers: [],
    lastSpeaker: "",
    reactions: [],
    microphoneOn: false,
    cameraOn: false,
    screenSharing: false,
    notices: [],
    endedReason: "",
  };
}

function member(p: Participant, isLocal: boolean, now: number): Member {
  return {
    sid: p.sid,
    identity: p.identity,
    name: p.name || p.identity,
    isLocal,
    tracks: p.tracks,
    handRaised: Boolean(p.attributes?.["handRaisedAt"]),
    joinedAt: now,
  };
}

function upsert(members: Member[], m: Member): Member[] {
  const i = members.findIndex((x) => x.identity === m.identity);
  if (i < 0) return [...members, m];
  const next = members.slice();
  next[i] = { ...m, joinedAt: members[i].joinedAt };
  return next;
}

let noticeIds = 0;

export function notice(kind: Notice["kind"], subject: string, detail: string): Notice {
  noticeIds += 1;
  return { id: noticeIds, kind, subject, detail };
}

/** The state after one event from the Rust side. */
export function apply(state: MeetingState, update: MeetingEvent, now = Date.now()): MeetingState {
  if (update.type === "device_problem") {
    const off = update.device === "camera" ? { cameraOn: false } : update.device === "microphone" ? { microphoneOn: false } : {};
    return { ...state, ...off, notices: [...state.notices, notice("device", update.device, update.message)] };
  }
  return applySession(state, update.event, now);
}

function applySession(state: MeetingState, event: Event, now: number): MeetingState {
  switch (event.event) {
    case "joined":
      return {
        ...state,
        phase: "joined",
        room: event.room,
        localIdentity: event.local.identity,
        members: [member(event.local, true, now), ...event.participants.map((p) => member(p, false, now))],
      };
    case "participant_joined":
      return { ...state, members: upsert(state.members, member(event.participant, false, now)) };
    case "participant_updated": {
      const isLocal = event.participant.identity === state.localIdentity;
      return { ...state, members: upsert(state.members, member(event.participant, isLocal, now)) };
    }
    case "participant_left":
      return {
        ...state,
        members: state.members.filter((m) => m.identity !== event.participant.identity),
        activeSpeakers: state.activeSpeakers.filter((s) => s !== event.participant.identity),
      };
    case "chat": {
      if (state.chat.some((c) => c.id === event.id)) return state;
      const message: ChatMessage = {
        id: event.id,
        from: event.from,
        text: event.text,
        timestamp: event.timestamp,
        mine: event.from === state.localIdentity,
      };
      return {
        ...state,
        chat: [...state.chat, message].slice(-CHAT_KEPT),
        unread: state.chatOpen || message.mine ? state.unread : state.unread + 1,
      };
    }
    case "caption": {
      const caption: Caption = { segmentId: event.segment_id, speaker: event.speaker, text: event.text, final: event.final };
      const others = state.captions.filter((c) => c.segmentId !== event.segment_id);
      return { ...state, captions: [...others, caption].slice(-CAPTIONS_SHOWN) };
    }
    case "active_speakers": {
      const other = event.identities.find((i) => i !== state.localIdentity);
      return { ...state, activeSpeakers: event.identities, lastSpeaker: other ?? state.lastSpeaker };
    }
    case "reaction":
      return addReaction(state, event.from, event.emoji);
    case "local_muted":
      if (event.source === "microphone") return { ...state, microphoneOn: !event.muted };
      if (event.source === "camera") return { ...state, cameraOn: !event.muted };
      return state;
    case "track_published":
      if (event.source === "microphone") return { ...state, microphoneOn: true };
      if (event.source === "camera") return { ...state, cameraOn: true };
      if (event.source === "screen_share") return { ...state, screenSharing: true };
      return state;
    case "publish_failed":
      return {
        ...state,
        ...(event.source === "camera"
          ? { cameraOn: false }
          : event.source === "microphone"
            ? { microphoneOn: false }
            : event.source === "screen_share"
              ? { screenSharing: false }
              : {}),
        notices: [...state.notices, notice("device", event.source, event.reason)],
      };
    case "reconnecting":
      return { ...state, phase: "reconnecting" };
    case "reconnected":
      return { ...state, phase: "joined" };
    case "rejoined":
      return { ...state, localIdentity: event.local.identity };
    case "disconnected":
      return { ...state, phase: "left", endedReason: event.reason };
    default:
      return state;
  }
}

let reactionIds = 0;

/** A reaction shown (`expireReaction` takes it away). */
export function addReaction(state: MeetingState, from: string, emoji: string): MeetingState {
  reactionIds += 1;
  return { ...state, reactions: [...state.reactions, { id: reactionIds, from, emoji }].slice(-REACTIONS_SHOWN) };
}

export function expireReaction(state: MeetingState, id: number): MeetingState {
  return { ...state, reactions: state.reactions.filter((r) => r.id !== id) };
}

/** Who the speaker view shows large: the pinned participant, else the last other one who spoke, else the
 * first other participant, else this user. */
export function featured(state: MeetingState, pinned: string | null): Member | undefined {
  const find = (identity: string | null) => (identity ? state.members.find((m) => m.identity === identity) : undefined);
  return find(pinned) ?? find(state.lastSpeaker) ?? state.members.find((m) => !m.isLocal) ?? state.members[0];
}

/** Marks the chat read (the panel is open) or not. */
export function setChatOpen(state: MeetingState, open: boolean): MeetingState {
  return { ...state, chatOpen: open, unread: open ? 0 : state.unread };
}

/** A participant's track of one source, if published. */
export function trackOf(m: Member, source: string): PublishedTrack | undefined {
  return m.tracks.find((t) => t.source === source);
}

/** Who shares a screen (the latest to start first), with the track. */
export function screenShares(members: Member[]): { member: Member; track: PublishedTrack }[] {
  return members.flatMap((m) => {
    const track = trackOf(m, "screen_share");
    return track && !track.muted ? [{ member: m, track }] : [];
  });
}

/** The display name of an identity (the identity itself when unknown). */
export function nameOf(members: Member[], identity: string): string {
  return members.find((m) => m.identity === identity)?.name ?? identity;
}
