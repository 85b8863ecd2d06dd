// One participant large (the pinned one, or who speaks) and a strip of the others under it, paged; only
// the strip's visible tiles exist, so only their videos are received, each at its small size.
import { useRef, useState } from "preact/hooks";
import { pageOf, STRIP_TILE, stripLayout } from "../state/layout";
import { featured, type MeetingState } from "../state/meeting";
import { pinned } from "../store";
import { useSize } from "./Grid";
import { Pager } from "./Pager";
import { Tile } from "./Tile";

const GAP = 8;

export function SpeakerView({ state }: { state: MeetingState }) {
  const area = useRef<HTMLDivElement>(null);
  const { width, height } = useSize(area);
  const [page, setPage] = useState(0);
  const main = featured(state, pinned.value);
  const others = state.members.filter((m) => m !== main);
  const layout = stripLayout(others.length, width, GAP);
  const current = Math.min(page, layout.pages - 1);
  // The others who speak come first in the strip.
  const speakersFirst = [...others].sort(
    (a, b) => Number(state.activeSpeakers.includes(b.identity)) - Number(state.activeSpeakers.includes(a.identity)),
  );
  const strip = pageOf(speakersFirst, layout, current);
  const stripHeight = others.length > 0 ? STRIP_TILE.height + GAP : 0;
  const mainHeight = Math.max(0, height - stripHeight);
  const mainWidth = Math.min(width, Math.round((mainHeight * 16) / 9));
  const tile = (m: (typeof others)[number], size: { width: number; height: number }) => (
    <Tile
      key={m.identity}
      member={m}
      speaking={state.activeSpeakers.includes(m.identity)}
      width={size.width}
      height={size.height}
      cameraOn={state.cameraOn}
      microphoneOn={state.microphoneOn}
      pinned={pinned.value === m.identity}
    />
  );
  return (
    <div class="speaker-view" ref={area} data-layout="speaker">
      {width > 0 && main && <div class="featured">{tile(main, { width: mainWidth, height: Math.round((mainWidth * 9) / 16) })}</div>}
      {width > 0 && strip.length > 0 && (
        <div class="strip">
          {strip.map((m) => tile(m, STRIP_TILE))}
          <Pager current={current} pages={layout.pages} onPage={setPage} />
        </div>
      )}
    </div>
  );
}
