#!/usr/bin/env node
// A browser participant for the native client's interop tests: LiveKit's browser SDK (livekit-client) in
// headless Chromium. It publishes a camera drawn on a canvas — the Colloque test pattern's stamp (frame
// counter and capture time in black and white cells, as colloque-media's `synthetic::video` draws it, so the
// native side reads it back with `read_stamp`) over a moving picture — in the codec asked for, and a 440 Hz
// tone from WebAudio as its microphone. It subscribes to `--expect`'s camera and reads the stamp of every
// picture it shows (requestVideoFrameCallback → canvas → pixels), which also gives glass-to-glass latency.
//
//   node browser_peer.mjs --url ws://127.0.0.1:PORT --token JWT --expect IDENTITY|'*' --codec vp8|vp9|h264
//                         [--size WxH] [--simulcast] [--stay S] [--timeout S]
//
// --expect '*': every remote camera is watched (the browser as a meeting client, for `bench call`).
// --size: the camera's size (default 640x360); --simulcast: three layers as livekit-client's presets.
// --stay: seconds of receiving counted from the first readable remote picture (default 10).
// stdout carries exactly one line, the JSON report (see README.md); logs go to stderr. Exit code 0 whenever
// the report was printed, 2 for bad arguments: the Rust test makes the assertions.

import { parseArgs } from 'node:util';

import { openBrowserPage } from './browser.mjs';
import { withTimeout } from './scenario.mjs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    expect: { type: 'string' },
    codec: { type: 'string', default: 'vp8' },
    size: { type: 'string', default: '640x360' },
    simulcast: { type: 'boolean', default: false },
    stay: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '60' },
  },
});
const [width, height] = values.size.split('x').map(Number);
if (!values.url || !values.token || !values.expect || !['vp8', 'vp9', 'h264'].includes(values.codec)
  || !(width >= 64 && height >= 32)) {
  console.error('usage: node browser_peer.mjs --url URL --token JWT --expect IDENTITY|* --codec vp8|vp9|h264 [--size WxH] [--simulcast] [--stay S] [--timeout S]');
  process.exit(2);
}

const started = Date.now();
const log = (...msg) => console.error(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, 'browser', ...msg);
const errorText = (err) => (err instanceof Error ? err.message : String(err)).split('\n')[0];
const FIRST_PICTURE_TIMEOUT_MS = 20_000;

const report = {
  connected: false,
  identity: null,
  chromium: null,
  livekitClient: null,
  published: null,
  received: null,
  errors: [],
};
const error = (what, err) => {
  const text = `${what}: ${errorText(err)}`;
  log(text);
  report.errors.push(text);
};

/* Runs in the page: joins, publishes the pattern camera and the tone, watches `expect`'s camera. */
async function browserJoin({ url, token, codec, expect, width, height, simulcast }) {
  const LK = window.LivekitClient;
  const CELLS = 32;
  // CRC-8, polynomial 0x07, initial 0xFF, over the 7 payload bytes (big-endian), as colloque-media's.
  const crc8 = (payload) => {
    let crc = 0xff;
    for (let i = 6; i >= 0; i -= 1) {
      crc ^= Number((payload >> BigInt(8 * i)) & 0xffn);
      for (let b = 0; b < 8; b += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  };
  const B = {
    room: null, stamps: [], unreadable: 0, connectAt: null, firstPictureAt: null, remotes: [], remoteAudio: null,
  };
  window.B = B;

  // The stamp of one picture, read from its top rows (RGBA), or null.
  const readStamp = (pixels, width) => {
    const cell = Math.floor(width / CELLS);
    if (cell < 2) return null;
    let bits = 0n;
    for (let i = 0; i < 64; i += 1) {
      const cx = (i % CELLS) * cell;
      const cy = Math.floor(i / CELLS) * cell;
      let sum = 0;
      let n = 0;
      for (let y = cy + Math.floor(cell / 4); y < cy + cell - Math.floor(cell / 4); y += 1) {
        for (let x = cx + Math.floor(cell / 4); x < cx + cell - Math.floor(cell / 4); x += 1) {
          const o = (y * width + x) * 4;
          sum += (pixels[o] + pixels[o + 1] + pixels[o + 2]) / 3;
          n += 1;
        }
      }
      bits = (bits << 1n) | (sum / Math.max(n, 1) > 128 ? 1n : 0n);
    }
    const payload = bits >> 8n;
    if (crc8(payload) !== Number(bits & 0xffn)) return null;
    return { counter: Number(payload >> 32n), millis: Number(payload & 0xffffffffn) };
  };

  const watch = (track, trackSid) => {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    document.body.appendChild(video);
    track.attach(video);
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const onFrame = () => {
      const [w, h] = [video.videoWidth, video.videoHeight];
      if (w && h) {
        const rows = Math.min(h, 2 * Math.floor(w / CELLS));
        if (canvas.width !== w || canvas.height !== rows) [canvas.width, canvas.height] = [w, rows];
        ctx.drawImage(video, 0, 0);
        const stamp = readStamp(ctx.getImageData(0, 0, w, rows).data, w);
        const at = Date.now();
        if (stamp) {
          B.firstPictureAt ??= at;
          // Capture time is kept modulo 2^32 ms.
          const ageMs = ((at % 2 ** 32) - stamp.millis + 2 ** 32) % 2 ** 32;
          if (B.stamps.length < 5000) B.stamps.push({ ...stamp, trackSid, width: w, height: h, at, ageMs });
        } else {
          B.unreadable += 1;
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };

  const room = new LK.Room({ adaptiveStream: false, dynacast: false, singlePeerConnection: false });
  B.room = room;
  room.on(LK.RoomEvent.TrackSubscribed, (track, publication, participant) => {
    if (expect !== '*' && participant.identity !== expect) return;
    if (track.kind === 'video') {
      B.remotes.push({ track, trackSid: publication.trackSid });
      watch(track, publication.trackSid);
    } else if (track.kind === 'audio') {
      // Played, as a meeting tab plays everyone.
      const element = track.attach();
      document.body.appendChild(element);
      B.remoteAudio ??= track;
    }
  });
  B.connectAt = Date.now();
  await room.connect(url, token, { autoSubscribe: true });

  // The camera: the stamp over a moving gradient and box, redrawn every 33 ms (timers, not animation
  // frames, which a headless page may throttle).
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [width, height];
  const ctx = canvas.getContext('2d');
  let counter = 0;
  const draw = () => {
    const t = counter;
    const gradient = ctx.createLinearGradient(0, 0, width, height);
    gradient.addColorStop(0, `hsl(${(t * 2) % 360} 60% 45%)`);
    gradient.addColorStop(1, `hsl(${(t * 2 + 180) % 360} 60% 45%)`);
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = 'rgb(200,200,200)';
    ctx.fillRect((t * 8) % Math.max(1, width - width / 6), height / 2, width / 6, height / 4);
    const cell = Math.floor(width / CELLS);
    const payload = (BigInt(t & 0xffffff) << 32n) | BigInt(Date.now() % 2 ** 32);
    const bits = (payload << 8n) | BigInt(crc8(payload));
    for (let i = 0; i < 64; i += 1) {
      ctx.fillStyle = (bits >> BigInt(63 - i)) & 1n ? 'rgb(235,235,235)' : 'rgb(16,16,16)';
      ctx.fillRect((i % CELLS) * cell, Math.floor(i / CELLS) * cell, cell, cell);
    }
    counter += 1;
  };
  draw();
  setInterval(draw, 33);
  const camera = new LK.LocalVideoTrack(canvas.captureStream(30).getVideoTracks()[0]);
  const published = await room.localParticipant.publishTrack(camera, {
    source: LK.Track.Source.Camera,
    videoCodec: codec,
    backupCodec: false,
    simulcast,
    videoSimulcastLayers: [LK.VideoPresets.h180, LK.VideoPresets.h360],
    videoEncoding: { maxBitrate: height >= 720 ? 1_700_000 : 1_200_000, maxFramerate: 30 },
    // One layer: the native side asserts its size, and on a busy 2-core machine the encoder went down to
    // 320x180, then 480x270; so, as scenario.mjs and simulcast.mjs do, it drops frames instead. Simulcast
    // (bench call) keeps the browser's default, as a meeting tab has it.
    ...(simulcast ? {} : { degradationPreference: 'maintain-resolution' }),
  });
  B.camera = camera;

  // The microphone: a 440 Hz tone at 0.3 of full scale.
  const audio = new AudioContext({ sampleRate: 48000 });
  await audio.resume();
  const tone = audio.createOscillator();
  tone.frequency.value = 440;
  const gain = audio.createGain();
  gain.gain.value = 0.3;
  const destination = audio.createMediaStreamDestination();
  tone.connect(gain).connect(destination);
  tone.start();
  const microphone = new LK.LocalAudioTrack(destination.stream.getAudioTracks()[0]);
  const mic = await room.localParticipant.publishTrack(microphone, { source: LK.Track.Source.Microphone });
  return {
    identity: room.localParticipant.identity,
    trackSid: published.trackSid,
    audioTrackSid: mic.trackSid,
    width: canvas.width,
    height: canvas.height,
  };
}

/* Runs in the page: what was sent and received, from getStats(). */
async function browserReport() {
  const B = window.B;
  const pick = async (track, type, kind) => {
    if (!track) return null;
    const stats = await (track.sender ?? track.receiver)?.getStats();
    if (!stats) return null;
    let found = null;
    stats.forEach((s) => {
      if (s.type === type && s.kind === kind) {
        const codec = s.codecId ? stats.get(s.codecId) : null;
        found = {
          codec: codec?.mimeType ?? null,
          width: s.frameWidth ?? null,
          height: s.frameHeight ?? null,
          framesEncoded: s.framesEncoded ?? null,
          framesDecoded: s.framesDecoded ?? null,
          bytes: s.bytesSent ?? s.bytesReceived ?? 0,
          packets: s.packetsSent ?? s.packetsReceived ?? 0,
          packetsLost: s.packetsLost ?? null,
          nackCount: s.nackCount ?? null,
          pliCount: s.pliCount ?? null,
          totalAudioEnergy: s.totalAudioEnergy ?? null,
        };
      }
    });
    return found;
  };
  return {
    sent: await pick(B.camera, 'outbound-rtp', 'video'),
    received: await pick(B.remotes[0]?.track, 'inbound-rtp', 'video'),
    receivedAudio: await pick(B.remoteAudio, 'inbound-rtp', 'audio'),
    remoteTrackSid: B.remotes[0]?.trackSid ?? null,
    remoteVideos: B.remotes.length,
    stamps: B.stamps,
    unreadable: B.unreadable,
    connectAt: B.connectAt,
    firstPictureAt: B.firstPictureAt,
  };
}

let browser = null;
let finished = false;
async function finish() {
  if (finished) return;
  finished = true;
  if (browser) {
    try {
      const r = await withTimeout(browser.page.evaluate(browserReport), 5000, 'report');
      report.published = report.published && { ...report.published, sentStats: r.sent };
      report.received = {
        from: values.expect,
        trackSid: r.remoteTrackSid,
        videos: r.remoteVideos,
        stats: r.received,
        audio: r.receivedAudio,
        readable: r.stamps.length,
        unreadable: r.unreadable,
        stamps: r.stamps,
        firstPictureAt: r.firstPictureAt === null ? null : r.firstPictureAt - started,
        // From the start of connecting to the first readable remote picture.
        firstPictureMs: r.firstPictureAt === null || r.connectAt === null ? null : r.firstPictureAt - r.connectAt,
      };
    } catch (err) {
      error('report', err);
    }
    try {
      await withTimeout(browser.page.evaluate(() => window.B?.room?.disconnect()), 5000, 'disconnect');
    } catch (err) {
      error('disconnect', err);
    }
    await browser.close();
  }
  // Exit once the report is out: writes to a pipe are asynchronous, and a large report would be cut.
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

setTimeout(() => {
  report.errors.push(`overall timeout after ${values.timeout} s`);
  finish();
}, Number(values.timeout) * 1000);

try {
  browser = await openBrowserPage(log, (err) => error('page error', err));
  report.chromium = browser.chromiumVersion;
  report.livekitClient = browser.livekitVersion;
  log('Chromium', report.chromium, 'livekit-client', report.livekitClient);
  const joined = await withTimeout(
    browser.page.evaluate(browserJoin, {
      url: values.url,
      token: values.token,
      codec: values.codec,
      expect: values.expect,
      width,
      height,
      simulcast: values.simulcast,
    }),
    30_000,
    'connect and publish',
  );
  report.connected = true;
  report.identity = joined.identity;
  report.published = { ...joined, codec: values.codec };
  log('published', JSON.stringify(joined));
  const deadline = Date.now() + FIRST_PICTURE_TIMEOUT_MS;
  let seen = false;
  while (!seen && Date.now() < deadline) {
    seen = await browser.page.evaluate(() => window.B.firstPictureAt !== null);
    if (!seen) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (seen) {
    log('first readable picture');
  } else {
    error('remote video', `no readable picture from ${values.expect} within ${FIRST_PICTURE_TIMEOUT_MS / 1000} s`);
  }
  await new Promise((resolve) => setTimeout(resolve, Number(values.stay) * 1000));
} catch (err) {
  error('browser peer', err);
}
await finish();
