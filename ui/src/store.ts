// The app's state, as signals, and the one place that talks to the Rust side.
import { signal } from "@preact/signals";
import { Channel } from "@tauri-apps/api/core";
import { commands, type AppError, type Device, type JoinTarget, type MeetingEvent } from "./bindings";
import { addReaction, apply, expireReaction, initialState, notice, setChatOpen, type MeetingState } from "./state/meeting";
import { notificationsFor } from "./state/notify";
import { previewSettled } from "./settings/store";
import { PictureClient } from "./video/client";

export const meeting = signal<MeetingState>(initialState());
export const captionsOn = signal(true);
export const panel = signal<"chat" | "participants" | null>(null);
export const joinError = signal<AppError | null>(null);
/** The screen picker is open. */
export const pickingScreen = signal(false);

let pictures: PictureClient | null = null;

/** The picture client, connected on first use. */
export async function pictureClient(): Promise<PictureClient> {
  if (!pictures) {
    const endpoint = await commands.frameEndpoint();
    pictures = new PictureClient(endpoint);
    pictures.connect();
  }
  return pictures;
}

/** How long a reaction stays on screen. */
const REACTION_MS = 4000;

function dispatch(update: MeetingEvent): void {
  const before = meeting.value;
  const after = apply(before, update);
  meeting.value = after;
  showReactions(before, after);
  // The Rust side shows them only while the window is not in front.
  for (const n of notificationsFor(before, after, update)) void commands.notify(n.title, n.body);
}

/** Takes each new reaction away after a while. */
function showReactions(before: MeetingState, after: MeetingState): void {
  for (const r of after.reactions) {
    if (!before.reactions.includes(r)) setTimeout(() => (meeting.value = expireReaction(meeting.value, r.id)), REACTION_MS);
  }
}

export const layoutMode = signal<"grid" | "speaker">("grid");
/** The participant pinned large (their identity). */
export const pinned = signal<string | null>(null);
/** The reactions toolbar is open. */
export const reactionsOpen = signal(false);

export function togglePin(identity: string): void {
  pinned.value = pinned.value === identity ? null : identity;
}

export function toggleLayout(): void {
  if (pinned.value) pinned.value = null;
  else layoutMode.value = layoutMode.value === "grid" ? "speaker" : "grid";
}

/** Sends a reaction; it shows here at once (the server does not echo it). */
export async function sendReaction(emoji: string): Promise<void> {
  const result = await commands.sendReaction(emoji);
  if (result.status === "error") return noticeError("reaction", result.error);
  const before = meeting.value;
  meeting.value = addReaction(before, before.localIdentity, emoji);
  showReactions(before, meeting.value);
}

export async function join(target: JoinTarget, name: string, camera: boolean, microphone: boolean): Promise<void> {
  joinError.value = null;
  meeting.value = { ...initialState(), phase: "joining" };
  const events = new Channel<MeetingEvent>();
  events.onmessage = dispatch;
  // The meeting opens the devices the preview holds: let the preview's last request finish first.
  await previewSettled();
  const result = await commands.join({ target, name, camera, microphone }, events);
  if (result.status === "error") {
    joinError.value = result.error;
    meeting.value = initialState();
  }
}

export async function leave(): Promise<void> {
  await commands.leave();
  meeting.value = { ...meeting.value, phase: "left", endedReason: "CLIENT_INITIATED" };
}

export function backToStart(): void {
  meeting.value = initialState();
  panel.value = null;
  pinned.value = null;
  reactionsOpen.value = false;
}

export async function setDevice(device: Device, enabled: boolean): Promise<void> {
  const result = await commands.setDeviceEnabled(device, enabled);
  if (result.status === "error") {
    meeting.value = {
      ...meeting.value,
      notices: [...meeting.value.notices, notice("device", device, errorDetail(result.error))],
    };
  }
}

export async function sendChat(text: string): Promise<boolean> {
  const result = await commands.sendChat(text);
  if (result.status === "error") return false;
  // The server does not echo one's own messages: shown here, under the id the others see.
  const from = meeting.value.localIdentity;
  dispatch({ type: "session", event: { event: "chat", id: result.data, from, text: text.trim(), timestamp: Date.now() } });
  return true;
}

export function togglePanel(which: "chat" | "participants"): void {
  panel.value = panel.value === which ? null : which;
  meeting.value = setChatOpen(meeting.value, panel.value === "chat");
}

export function dismissNotice(id: number): void {
  meeting.value = { ...meeting.value, notices: meeting.value.notices.filter((n) => n.id !== id) };
}

export async function showVideo(trackSid: string, width: number, height: number): Promise<void> {
  await commands.showVideo(trackSid, Math.round(width), Math.round(height));
}

export function errorDetail(error: AppError): string {
  return "detail" in error ? String(error.detail) : "";
}

function noticeError(subject: string, error: AppError): void {
  meeting.value = { ...meeting.value, notices: [...meeting.value.notices, notice("error", subject, errorDetail(error))] };
}

export async function shareScreen(index: number): Promise<void> {
  pickingScreen.value = false;
  const result = await commands.shareScreen(index);
  if (result.status === "error") noticeError("screen", result.error);
}

export async function stopScreenShare(): Promise<void> {
  const result = await commands.stopScreenShare();
  if (result.status === "error") noticeError("screen", result.error);
  else meeting.value = { ...meeting.value, screenSharing: false };
}

/** Opens the picker, or stops sharing when a screen is shared. */
export function toggleScreenShare(): void {
  if (meeting.value.screenSharing) void stopScreenShare();
  else pickingScreen.value = !pickingScreen.value;
}

/** Raises this user's hand, or lowers it. */
export async function toggleHand(): Promise<void> {
  const local = meeting.value.members.find((m) => m.isLocal);
  const result = await commands.raiseHand(!local?.handRaised);
  if (result.status === "error") noticeError("hand", result.error);
}
