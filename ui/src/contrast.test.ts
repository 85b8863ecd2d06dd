// Contrast of the app's colours (WCAG 2.2: 4.5:1 for text, 3:1 for focus rings and meters), read from the
// style sheet itself, so that a colour change that makes text unreadable fails here.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const css = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "styles.css"), "utf8");

/** A property of the first rule whose selector is exactly `selector`, with `var(--x)` resolved. */
function property(selector: string, name: string): string {
  const escaped = selector.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const rule = new RegExp(`(^|\\n)${escaped}\\s*\\{([^}]*)\\}`).exec(css);
  if (!rule) throw new Error(`no rule ${selector}`);
  const value = new RegExp(`(^|[;\\s])${name}:\\s*([^;]+)`).exec(rule[2])?.[2].trim();
  if (!value) throw new Error(`${selector} has no ${name}`);
  return resolve(value);
}

function resolve(value: string): string {
  const variable = /^var\((--[\w-]+)\)$/.exec(value);
  return variable ? property(":root", variable[1]) : value;
}

function luminance(hex: string): number {
  const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex);
  if (!match) throw new Error(`not a hex colour: ${hex}`);
  const full = match[1].length === 3 ? [...match[1]].map((c) => c + c).join("") : match[1];
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const text = property(":root", "--text");
const pairs: [what: string, foreground: string, background: string, minimum: number][] = [
  ["text on the window", text, property(":root", "--bg"), 4.5],
  ["text on panels", text, property(":root", "--panel"), 4.5],
  ["hints on panels", property(":root", "--muted-text"), property(":root", "--panel"), 4.5],
  ["button labels", text, property("button", "background"), 4.5],
  ["field text", text, property('input:not([type="checkbox"]), select', "background"), 4.5],
  ["a muted control", text, property(".controls button.off", "background"), 4.5],
  ["the leave button", text, property(".controls .leave", "background"), 4.5],
  ["the sharing control", text, property(".controls button.sharing", "background"), 4.5],
  ["initials on an avatar", text, property(".tile .avatar span", "background"), 4.5],
  ["device errors on panels", property(".field-error", "color"), property(":root", "--panel"), 4.5],
  ["the focus ring on the window", property(":root", "--focus"), property(":root", "--bg"), 3],
  ["the focus ring on buttons", property(":root", "--focus"), property("button", "background"), 3],
  ["the microphone meter", property(".meter-fill", "background"), property(".meter", "background"), 3],
];

describe("colour contrast", () => {
  it.each(pairs)("%s is readable", (_what, foreground, background, minimum) => {
    expect(contrast(foreground, background)).toBeGreaterThanOrEqual(minimum);
  });

  it("is measured correctly (black on white is 21:1, a colour on itself 1:1)", () => {
    expect(contrast("#000", "#fff")).toBeCloseTo(21, 5);
    expect(contrast("#767676", "#767676")).toBe(1);
    expect(contrast("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
  });
});
