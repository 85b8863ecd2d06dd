import { signal } from "@preact/signals";
import { commands, type BenchPlan } from "./bindings";
import { FrameBench } from "./components/FrameBench";
import { MeetingView } from "./components/MeetingView";
import { PreJoin } from "./components/PreJoin";
import { language } from "./i18n";
import { SettingsDialog } from "./components/SettingsDialog";
import { loadSettings, settings, settingsOpen } from "./settings/store";
import { join, meeting } from "./store";

void loadSettings();

/** Set when the app was started to measure the picture path (`--bench-frames`). */
const benchPlan = signal<BenchPlan | null>(null);
void commands.benchPlan().then((plan) => (benchPlan.value = plan));
// A meeting given on the command line is joined at once (receive only: devices stay off).
void commands.startupJoin().then((target) => {
  if (target) void join(target, "", false, false);
});

export function App() {
  document.documentElement.lang = language.value;
  if (benchPlan.value) return <FrameBench plan={benchPlan.value} />;
  // The pre-join screen stays while joining (it shows "Connecting…"); the join resets the meeting state.
  const phase = meeting.value.phase;
  if (!settings.value) return <p role="status">…</p>;
  return (
    <>
      {phase === "idle" || phase === "joining" ? <PreJoin /> : <MeetingView />}
      {settingsOpen.value && <SettingsDialog />}
    </>
  );
}
