// The participants' tiles, paged: only the tiles of the page shown exist, so only their videos are
// subscribed (each at its tile's size).
import { useEffect, useRef, useState } from "preact/hooks";
import { gridLayout, pageOf } from "../state/layout";
import type { Member } from "../state/meeting";
import { Pager } from "./Pager";
import { Tile } from "./Tile";

interface Props {
  members: Member[];
  activeSpeakers: string[];
  cameraOn: boolean;
  microphoneOn: boolean;
}

export function useSize(ref: { current: HTMLElement | null }): { width: number; height: number } {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setSize({ width: element.clientWidth, height: element.clientHeight }));
    observer.observe(element);
    setSize({ width: element.clientWidth, height: element.clientHeight });
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

export function Grid({ members, activeSpeakers, cameraOn, microphoneOn }: Props) {
  const area = useRef<HTMLDivElement>(null);
  const { width, height } = useSize(area);
  const [page, setPage] = useState(0);
  const pagerHeight = 40;
  const layout = gridLayout(members.length, width, Math.max(0, height - pagerHeight));
  const shown = pageOf(members, layout, page);
  const current = Math.min(page, layout.pages - 1);
  return (
    <div class="grid-area" ref={area} data-layout="grid">
      <div class="grid" style={{ gridTemplateColumns: `repeat(${layout.columns}, ${layout.tileWidth}px)` }}>
        {width > 0 &&
          shown.map((m) => (
            <Tile
              key={m.identity}
              member={m}
              speaking={activeSpeakers.includes(m.identity)}
              width={layout.tileWidth}
              height={layout.tileHeight}
              cameraOn={cameraOn}
              microphoneOn={microphoneOn}
              pinned={false}
            />
          ))}
      </div>
      <Pager current={current} pages={layout.pages} onPage={setPage} />
    </div>
  );
}
