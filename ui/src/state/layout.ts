// Grid geometry: how many tiles fit on a page and at what size, keeping 16:9 tiles as large as possible.

export interface GridLayout {
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Tiles on one page. */
  perPage: number;
  pages: number;
}

export const ASPECT = 16 / 9;
/** Smaller tiles cannot show a face or a name: beyond, the grid pages. */
export const MIN_TILE_WIDTH = 160;
/** At most this many tiles on a page, however large the window (each one is a video decoded). */
export const MAX_PER_PAGE = 25;

export function gridLayout(count: number, width: number, height: number, gap = 8): GridLayout {
  const maxColumns = Math.max(1, Math.floor((width + gap) / (MIN_TILE_WIDTH + gap)));
  const maxRows = Math.max(1, Math.floor((height + gap) / (MIN_TILE_WIDTH / ASPECT + gap)));
  const perPage = Math.max(1, Math.min(Math.max(count, 1), maxColumns * maxRows, MAX_PER_PAGE));
  let best: GridLayout = { columns: 1, rows: 1, tileWidth: 0, tileHeight: 0, perPage, pages: 1 };
  for (let columns = 1; columns <= Math.min(perPage, maxColumns); columns += 1) {
    const rows = Math.ceil(perPage / columns);
    if (rows > maxRows) continue;
    const tileWidth = Math.floor(
      Math.min((width - gap * (columns - 1)) / columns, ((height - gap * (rows - 1)) / rows) * ASPECT),
    );
    if (tileWidth > best.tileWidth) {
      best = { columns, rows, tileWidth, tileHeight: Math.floor(tileWidth / ASPECT), perPage, pages: 1 };
    }
  }
  best.pages = Math.max(1, Math.ceil(count / perPage));
  return best;
}

/** The speaker view's strip tiles: small, all the same size, in one row. */
export const STRIP_TILE = { width: 192, height: 108 };

/** Room the strip's pager takes at the end of its row. */
export const STRIP_PAGER_WIDTH = 200;

/** How the strip pages `count` tiles in a row `width` wide (its pager, when it pages, in the same row). */
export function stripLayout(count: number, width: number, gap = 8): { perPage: number; pages: number } {
  const fit = (room: number) => Math.max(1, Math.floor((room + gap) / (STRIP_TILE.width + gap)));
  const all = fit(width);
  const perPage = count > all ? fit(width - STRIP_PAGER_WIDTH - gap) : all;
  return { perPage, pages: Math.max(1, Math.ceil(count / perPage)) };
}

/** The items of page `page` (0-based, clamped). */
export function pageOf<T>(items: T[], layout: { perPage: number; pages: number }, page: number): T[] {
  const last = Math.max(0, layout.pages - 1);
  const p = Math.min(Math.max(0, page), last);
  return items.slice(p * layout.perPage, (p + 1) * layout.perPage);
}
