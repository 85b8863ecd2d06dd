import { describe, expect, it } from "vitest";
import { gridLayout, MAX_PER_PAGE, MIN_TILE_WIDTH, pageOf } from "./layout";

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
