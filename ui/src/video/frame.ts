// One picture message from the picture server (src-tauri/src/frames.rs): a 24-byte little-endian header
// (magic "CQV1", id length, reserved, width, height, timestamp µs), the video id, then the I420 planes.

export const HEADER_LEN = 24;
const MAGIC = [0x43, 0x51, 0x56, 0x31]; // "CQV1"

export interface Picture {
  /** Track sid, or "local:camera" / "local:screen". */
  id: string;
  width: number;
  height: number;
  /** Capture time in µs (the sender's clock). */
  timestampUs: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

export class PictureError extends Error {}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads a picture message; the planes are views into `buffer`, not copies. */
export function parsePicture(buffer: ArrayBuffer): Picture {
  if (buffer.byteLength < HEADER_LEN) throw new PictureError("picture message too short");
  const bytes = new Uint8Array(buffer);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new PictureError("not a Colloque picture");
  const view = new DataView(buffer);
  const idLen = view.getUint16(4, true);
  const width = view.getUint32(8, true);
  const height = view.getUint32(12, true);
  const timestampUs = view.getUint32(16, true) + view.getUint32(20, true) * 2 ** 32;
  const ySize = width * height;
  const cSize = Math.ceil(width / 2) * Math.ceil(height / 2);
  const planesAt = HEADER_LEN + idLen;
  if (buffer.byteLength < planesAt + ySize + 2 * cSize) throw new PictureError("picture message truncated");
  let id: string;
  try {
    id = decoder.decode(bytes.subarray(HEADER_LEN, planesAt));
  } catch {
    throw new PictureError("picture id is not UTF-8");
  }
  return {
    id,
    width,
    height,
    timestampUs,
    y: bytes.subarray(planesAt, planesAt + ySize),
    u: bytes.subarray(planesAt + ySize, planesAt + ySize + cSize),
    v: bytes.subarray(planesAt + ySize + cSize, planesAt + ySize + 2 * cSize),
  };
}
