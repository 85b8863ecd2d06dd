import { describe, expect, it } from "vitest";
import { gridLayout, MAX_PER_PAGE, MIN_TILE_WIDTH, pageOf, STRIP_PAGER_WIDTH, STRIP_TILE, stripLayout } from "./layout";

describe("gridLayout", () => {
  it("gives one participant the whole width of a wide window", () => {
    const l = gridLayout(1, 1280, 720);
    expect([l.columns, l.rows, l.tileWidth, l.tileHeight]).toEqual([1, 1, 1280, 720]);
  });

  it("puts four in two rows of two", () => {
    const l = gridLayout(4, 1280, 720);
    expect([l.columns, l.rows, l.pages]).toEqual([2, 2, 1]);
    expect(l.tileWidth).toBe(Math.floor((720 - 8) / 2 * (16 / 9)));
  });

  it("pages 150 participants, never below the smallest readable tile", () => {
    const l = gridLayout(150, 1280, 720);
    expect(l.perPage).toBeLessThanOrEqual(MAX_PER_PAGE);
    expect(l.pages).toBe(Math.ceil(150 / l.perPage));
    expect(l.tileWidth).toBeGreaterThanOrEqual(MIN_TILE_WIDTH);
    expect(l.columns * l.rows).toBeGreaterThanOrEqual(l.perPage);
    const people = Array.from({ length: 150 }, (_, i) => i);
    expect(pageOf(people, l, 0)).toHaveLength(l.perPage);
    expect(pageOf(people, l, l.pages - 1).at(-1)).toBe(149);
    expect(pageOf(people, l, 99)).toEqual(pageOf(people, l, l.pages - 1));
  });

  it("survives a window smaller than one tile", () => {
    const l = gridLayout(3, 100, 50);
    expect(l.perPage).toBe(1);
    expect(l.pages).toBe(3);
  });
});

describe("stripLayout", () => {
  it("keeps everyone on one page when they fit, and pages the rest of 150 without dropping anyone", () => {
    expect(stripLayout(6, 1280)).toEqual({ perPage: 6, pages: 1 });
    const l = stripLayout(149, 1280);
    // Tiles and the pager share the row.
    expect(l.perPage * (STRIP_TILE.width + 8) + STRIP_PAGER_WIDTH).toBeLessThanOrEqual(1280);
    expect(l.perPage).toBe(5);
    expect(l.pages).toBe(Math.ceil(149 / 5));
    const people = Array.from({ length: 149 }, (_, i) => i);
    const seen = Array.from({ length: l.pages }, (_, p) => pageOf(people, l, p)).flat();
    expect(seen).toEqual(people);
  });

  it("shows one tile a page in a window narrower than a tile", () => {
    expect(stripLayout(4, 100)).toEqual({ perPage: 1, pages: 4 });
    expect(stripLayout(0, 1280).pages).toBe(1);
  });
});
