import { MeetingView } from "./components/MeetingView";
import { PreJoin } from "./components/PreJoin";
import { language } from "./i18n";
import { meeting } from "./store";

export function App() {
  document.documentElement.lang = language.value;
  const phase = meeting.value.phase;
  return phase === "idle" || (phase === "joining" && meeting.value.members.length === 0 && !meeting.value.room) ? (
    <PreJoin />
  ) : (
    <MeetingView />
  );
}
