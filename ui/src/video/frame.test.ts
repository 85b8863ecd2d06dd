import { describe, expect, it } from "vitest";
import { parsePicture, PictureError } from "./frame";

/** A message as the Rust side encodes it (see frames.rs: encode). */
function message(id: string, width: number, height: number, fill: number, timestampUs: number): ArrayBuffer {
  const idBytes = new TextEncoder().encode(id);
  const planes = width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
  const buffer = new ArrayBuffer(24 + idBytes.length + planes);
  const view = new DataView(buffer);
  new Uint8Array(buffer).set([0x43, 0x51, 0x56, 0x31]);
  view.setUint16(4, idBytes.length, true);
  view.setUint32(8, width, true);
  view.setUint32(12, height, true);
  view.setUint32(16, timestampUs % 2 ** 32, true);
  view.setUint32(20, Math.floor(timestampUs / 2 ** 32), true);
  new Uint8Array(buffer).set(idBytes, 24);
  new Uint8Array(buffer, 24 + idBytes.length).fill(fill);
  return buffer;
}

describe("parsePicture", () => {
  it("reads the header and splits the planes of an odd-sized picture", () => {
    const p = parsePicture(message("TR_abc", 33, 17, 9, 5_000_000_123));
    expect([p.id, p.width, p.height, p.timestampUs]).toEqual(["TR_abc", 33, 17, 5_000_000_123]);
    expect([p.y.length, p.u.length, p.v.length]).toEqual([33 * 17, 17 * 9, 17 * 9]);
    expect(p.v[p.v.length - 1]).toBe(9);
  });

  it("refuses garbage and truncated messages", () => {
    expect(() => parsePicture(new ArrayBuffer(3))).toThrow(PictureError);
    expect(() => parsePicture(new TextEncoder().encode("not a picture, but long enough").buffer as ArrayBuffer)).toThrow(
      /not a Colloque picture/,
    );
    const whole = message("x", 4, 4, 1, 0);
    expect(() => parsePicture(whole.slice(0, whole.byteLength - 1))).toThrow(/truncated/);
  });
});
