// The user's settings and devices, as signals, and the pre-join preview. The Rust side keeps the settings
// (in the user's configuration directory); this module holds the copy the UI shows.
import { signal } from "@preact/signals";
import { Channel } from "@tauri-apps/api/core";
import { commands, type AppError, type Device, type DeviceList, type PreviewEvent, type Settings_Serialize } from "../bindings";
import { language, systemLanguage } from "../i18n";

export type Settings = Settings_Serialize;

export const settings = signal<Settings | null>(null);
export const devices = signal<DeviceList | null>(null);
/** The microphone's level in the preview, 0 to 1. */
export const microphoneLevel = signal(0);
/** Devices the preview could not open, and why. */
export const previewProblems = signal<Partial<Record<Device, string>>>({});
export const settingsOpen = signal(false);
export const settingsError = signal<AppError | null>(null);

function followLanguage(s: Settings): void {
  language.value = s.language ?? systemLanguage(globalThis.navigator?.language);
}

export async function loadSettings(): Promise<void> {
  const loaded = await commands.getSettings();
  settings.value = loaded;
  followLanguage(loaded);
}

/** Keeps a change (the Rust side writes it and applies it to the meeting); false when it was refused. */
export async function saveSettings(change: Partial<Settings>): Promise<boolean> {
  const current = settings.value;
  if (!current) return false;
  const result = await commands.saveSettings({ ...current, ...change });
  if (result.status === "error") {
    settingsError.value = result.error;
    return false;
  }
  settingsError.value = null;
  settings.value = result.data;
  followLanguage(result.data);
  return true;
}

export async function refreshDevices(): Promise<void> {
  const result = await commands.listDevices();
  if (result.status === "ok") devices.value = result.data;
  else settingsError.value = result.error;
}

// Starting and stopping the preview are chained, so that a join never races a preview still opening.
let previewing: Promise<unknown> = Promise.resolve();

export function startPreview(camera: boolean, microphone: boolean): Promise<unknown> {
  const events = new Channel<PreviewEvent>();
  previewProblems.value = {};
  microphoneLevel.value = 0;
  events.onmessage = (event) => {
    if (event.type === "level") microphoneLevel.value = event.level ?? 0;
    else previewProblems.value = { ...previewProblems.value, [event.device]: event.message };
  };
  previewing = previewing.then(() => commands.startPreview(camera, microphone, events));
  return previewing;
}

export function stopPreview(): Promise<unknown> {
  previewing = previewing.then(() => commands.stopPreview());
  microphoneLevel.value = 0;
  return previewing;
}

/** Waits until the last preview request was carried out. */
export function previewSettled(): Promise<unknown> {
  return previewing;
}

/** Plays the test sound on the chosen speaker; the error, if it could not. */
export async function testSpeaker(): Promise<AppError | null> {
  const result = await commands.testSpeaker();
  return result.status === "error" ? result.error : null;
}
