#!/usr/bin/env node
// Test peers for Colloque's SFU integration tests, driven through LiveKit's own Node SDK
// (@livekit/rtc-node) so that the SFU is checked against a real client stack.
//
//   node scenario.mjs two-peers --url ws://127.0.0.1:PORT --token-a JWT --token-b JWT [--seconds 8]
//
// Everything for humans goes to stderr. stdout carries exactly one line: the JSON report
// {"a":{...},"b":{...}}. The exit code is 0 whenever that report was printed, even if media or
// signalling failed: the Rust test makes the assertions. See README.md for the report's fields.

import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  LocalVideoTrack,
  Room,
  RoomEvent,
  SimulateScenarioKind,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  VideoBufferType,
  VideoCodec,
  VideoFrame,
  VideoSource,
  VideoStream,
  dispose,
} from '@livekit/rtc-node';

const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = SAMPLE_RATE / 100; // 10 ms
const TONE_AMPLITUDE = 0.3; // of full scale; a sine's RMS is then 0.3 / sqrt(2) ≈ 0.212
const VIDEO_WIDTH = 640;
const VIDEO_HEIGHT = 360;
const VIDEO_FPS = 15;
const PATCH = 20; // side of the square sampled at the centre of each quadrant
const AUDIO_SKIP_S = 0.5; // let the jitter buffer and Opus settle before measuring
const AUDIO_WINDOW_S = 1.0;
const MAX_DUMPS = 20;
const QUADRANT_AFTER_MS = 1000; // first frames after a keyframe can be blurry
const DISCONNECT_WAIT_MS = 3000;
const CONNECT_TIMEOUT_MS = 10_000;
const PUBLISH_TIMEOUT_MS = 10_000;
const STEP_TIMEOUT_MS = 10_000;
const RESUME_TIMEOUT_MS = 15_000; // each of A's data / attribute / metadata calls (a loaded CI machine is slow)
// The SDK's DegradationPreference.MAINTAIN_RESOLUTION (not re-exported by rtc-node): keeps the
// encoder from downscaling on a busy 2-core CI machine, so the receiver can assert 640x360.
const MAINTAIN_RESOLUTION = 2;

// Quadrant colours, top-left, top-right, bottom-left, bottom-right.
const PEERS = {
  a: { label: 'A', tone: 440, quadrants: [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]] },
  b: { label: 'B', tone: 660, quadrants: [[255, 255, 0], [0, 255, 255], [255, 0, 255], [0, 0, 0]] },
};

const started = Date.now();
const log = (...msg) => console.error(`[${((Date.now() - started) / 1000).toFixed(2)}s]`, ...msg);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const errorText = (err) => (err instanceof Error ? err.message : String(err));

/** Resolves when `condition()` holds, or after `ms`; returns whether it held. */
async function waitUntil(condition, ms, step = 50) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await sleep(step);
  }
  return true;
}

/** Rejects after `ms`, so that a hung SDK call cannot eat the whole scenario budget. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The SDK logs through a pino logger that writes to stdout, which would break the
// "one JSON line on stdout" contract. It is not exported, but it is a CommonJS singleton, so
// loading the same file by path gives the very instance the SDK uses; point its stream at stderr.
function routeSdkLogsToStderr() {
  try {
    const require = createRequire(import.meta.url);
    const logModule = path.join(path.dirname(require.resolve('@livekit/rtc-node')), 'log.cjs');
    const { log: sdkLog } = require(logModule);
    const pino = createRequire(logModule)('pino');
    sdkLog[pino.symbols.streamSym] = pino.destination({ fd: 2, sync: true });
    sdkLog.level = process.env.LK_LOG_LEVEL ?? 'info';
  } catch (err) {
    log('could not route SDK logs to stderr, they may appear on stdout:', errorText(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Media generation

/** A still RGBA picture split in four solid quadrants. */
function quadrantPicture(colours, width, height) {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colours[(y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)];
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return new VideoFrame(data, width, height, VideoBufferType.RGBA);
}

/** Feeds a sine tone in 10 ms frames until stopped. AudioSource.captureFrame resolves only when
 * its (short) queue has room, so awaiting it paces the loop at real time. */
async function playTone(source, frequency, isRunning) {
  const step = (2 * Math.PI * frequency) / SAMPLE_RATE;
  for (let n = 0; isRunning(); ) {
    const samples = new Int16Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++, n++) {
      samples[i] = Math.round(TONE_AMPLITUDE * 32767 * Math.sin(step * n));
    }
    await source.captureFrame(new AudioFrame(samples, SAMPLE_RATE, 1, FRAME_SAMPLES));
  }
}

// ---------------------------------------------------------------------------------------------
// Media measurement

/** Mean RGB of a PATCH x PATCH square at the centre of each quadrant, in report order. */
function measureQuadrants(frame) {
  const rgba = frame.type === VideoBufferType.RGBA ? frame : frame.convert(VideoBufferType.RGBA);
  const { width, height, data } = rgba; // tightly packed: stride = width * 4
  const centres = [
    [width / 4, height / 4],
    [(3 * width) / 4, height / 4],
    [width / 4, (3 * height) / 4],
    [(3 * width) / 4, (3 * height) / 4],
  ];
  return centres.map(([cx, cy]) => {
    const x0 = Math.max(0, Math.round(cx - PATCH / 2));
    const y0 = Math.max(0, Math.round(cy - PATCH / 2));
    const x1 = Math.min(width, x0 + PATCH);
    const y1 = Math.min(height, y0 + PATCH);
    const sum = [0, 0, 0];
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * width + x) * 4;
        sum[0] += data[i];
        sum[1] += data[i + 1];
        sum[2] += data[i + 2];
      }
    }
    const count = Math.max(1, (x1 - x0) * (y1 - y0));
    return sum.map((s) => Math.round(s / count));
  });
}

/** Dominant frequency by a Goertzel scan over 100..2000 Hz in 10 Hz steps. A 1 s window gives
 * 1 Hz bins, so the scan lands exactly on the 440 / 660 Hz test tones. */
function dominantFrequency(samples) {
  let best = { frequency: null, power: 0 };
  for (let f = 100; f <= 2000; f += 10) {
    const coeff = 2 * Math.cos((2 * Math.PI * f) / SAMPLE_RATE);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < samples.length; i++) {
      const s0 = samples[i] + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (power > best.power) best = { frequency: f, power };
  }
  return best.frequency;
}

// ---------------------------------------------------------------------------------------------
// One participant

class Peer {
  constructor(key, token, codec = 'vp8') {
    Object.assign(this, PEERS[key]);
    this.token = token;
    this.codec = codec; // the video codec this peer publishes: vp8, h264 or vp9
    this.room = new Room();
    this.running = false; // media generators run while true
    this.readers = []; // remote stream readers, cancelled at the end
    this.audioSamples = new Float32Array(AUDIO_WINDOW_S * SAMPLE_RATE);
    this.audioFilled = 0;
    this.audioSeen = 0;
    this.dumpDir = null; // set to write received pictures (chat_peer --dump)
    this.report = {
      connected: false,
      identity: null,
      remoteParticipants: [],
      video: null,
      audio: null,
      chat: [],
      data: [],
      attributes: {},
      metadata: null,
      sawDisconnectOf: [],
      // Identities the server ever announced as active speakers (SpeakersChanged).
      speakers: [],
      // Times the SDK reported its connection lost and back (resume).
      reconnecting: 0,
      reconnected: 0,
      errors: [],
    };
    this.listen();
  }

  error(what, err) {
    const text = `${what}: ${errorText(err)}`;
    log(this.label, text);
    this.report.errors.push(text);
  }

  /** Runs `fn` as an event handler whose failure is recorded rather than thrown into the SDK. */
  guarded(what, fn) {
    return (...args) => {
      try {
        const result = fn(...args);
        if (result instanceof Promise) result.catch((err) => this.error(what, err));
      } catch (err) {
        this.error(what, err);
      }
    };
  }

  sawRemote(identity) {
    if (!this.report.remoteParticipants.includes(identity)) {
      this.report.remoteParticipants.push(identity);
    }
  }

  // Handlers are attached before connecting so that nothing sent right after the join is missed.
  listen() {
    const room = this.room;
    const isRemote = (p) => p && p !== room.localParticipant;

    room.on(RoomEvent.ParticipantConnected, this.guarded('participantConnected', (p) => {
      log(this.label, 'participant connected:', p.identity);
      this.sawRemote(p.identity);
    }));
    room.on(RoomEvent.ParticipantDisconnected, this.guarded('participantDisconnected', (p) => {
      log(this.label, 'participant disconnected:', p.identity);
      this.report.sawDisconnectOf.push(p.identity);
    }));
    room.on(RoomEvent.TrackSubscribed, this.guarded('trackSubscribed', (track, pub, p) => {
      log(this.label, 'subscribed to', p.identity, track.kind === TrackKind.KIND_VIDEO ? 'video' : 'audio', pub.sid);
      if (track.kind === TrackKind.KIND_VIDEO && !this.report.video) {
        this.remoteVideoMime = pub.mimeType ?? null;
        return this.readVideo(track);
      }
      if (track.kind === TrackKind.KIND_AUDIO && !this.report.audio) return this.readAudio(track, pub.mimeType ?? null);
    }));
    room.on(RoomEvent.TrackSubscriptionFailed, this.guarded('trackSubscriptionFailed', (sid, p, reason) => {
      this.error('track subscription failed', `${sid} of ${p?.identity}: ${reason ?? 'no reason'}`);
    }));
    room.on(RoomEvent.ParticipantAttributesChanged, this.guarded('attributesChanged', (changed, p) => {
      if (!isRemote(p)) return;
      log(this.label, 'attributes of', p.identity, 'changed:', JSON.stringify(changed));
      this.report.attributes = { ...p.attributes };
    }));
    room.on(RoomEvent.ParticipantMetadataChanged, this.guarded('metadataChanged', (metadata, p) => {
      if (!isRemote(p)) return;
      log(this.label, 'metadata of', p.identity, 'changed:', JSON.stringify(metadata));
      this.report.metadata = metadata ?? null;
    }));
    room.on(RoomEvent.DataReceived, this.guarded('dataReceived', (payload, p, kind, topic) => {
      const text = new TextDecoder().decode(payload);
      log(this.label, 'data packet from', p?.identity, 'topic', topic, JSON.stringify(text));
      this.report.data.push({ from: p?.identity ?? null, topic: topic ?? null, text, kind });
    }));
    room.on(RoomEvent.ActiveSpeakersChanged, this.guarded('activeSpeakersChanged', (speakers) => {
      for (const p of speakers) {
        if (!this.report.speakers.includes(p.identity)) {
          log(this.label, 'active speaker:', p.identity);
          this.report.speakers.push(p.identity);
        }
      }
    }));
    room.on(RoomEvent.Reconnecting, this.guarded('reconnecting', () => {
      log(this.label, 'reconnecting');
      this.report.reconnecting += 1;
    }));
    room.on(RoomEvent.Reconnected, this.guarded('reconnected', () => {
      log(this.label, 'reconnected');
      this.report.reconnected += 1;
    }));
    room.on(RoomEvent.Disconnected, this.guarded('disconnected', (reason) => {
      log(this.label, 'room disconnected, reason', reason);
    }));
    room.registerTextStreamHandler('lk.chat', this.guarded('chat stream', async (reader, { identity }) => {
      const text = await reader.readAll();
      log(this.label, 'chat from', identity, JSON.stringify(text));
      this.report.chat.push({ from: identity, text });
    }));
  }

  async connect(url) {
    try {
      await withTimeout(
        this.room.connect(url, this.token, { autoSubscribe: true, dynacast: false }),
        CONNECT_TIMEOUT_MS,
        'connect',
      );
      this.report.connected = true;
      this.report.identity = this.room.localParticipant.identity;
      for (const p of this.room.remoteParticipants.values()) this.sawRemote(p.identity);
      log(this.label, 'connected as', this.report.identity);
    } catch (err) {
      this.error('connect', err);
    }
  }

  async publish() {
    const lp = this.room.localParticipant;
    this.running = true;
    const isRunning = () => this.running;

    try {
      this.audioSource = new AudioSource(SAMPLE_RATE, 1, 100);
      const track = LocalAudioTrack.createAudioTrack(`tone-${this.tone}`, this.audioSource);
      const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
      await withTimeout(lp.publishTrack(track, options), PUBLISH_TIMEOUT_MS, 'publish');
      this.tonePlaying = playTone(this.audioSource, this.tone, isRunning).catch((err) => {
        if (this.running) this.error('audio capture', err);
      });
    } catch (err) {
      this.error('publish audio', err);
    }

    try {
      this.videoSource = new VideoSource(VIDEO_WIDTH, VIDEO_HEIGHT);
      const track = LocalVideoTrack.createVideoTrack('quadrants', this.videoSource);
      const options = new TrackPublishOptions({
        source: TrackSource.SOURCE_CAMERA,
        simulcast: false,
        videoCodec: VideoCodec[this.codec.toUpperCase()],
        videoEncoding: { maxBitrate: 1_500_000n, maxFramerate: VIDEO_FPS },
        degradationPreference: MAINTAIN_RESOLUTION,
      });
      await withTimeout(lp.publishTrack(track, options), PUBLISH_TIMEOUT_MS, 'publish');
      const picture = quadrantPicture(this.quadrants, VIDEO_WIDTH, VIDEO_HEIGHT);
      this.videoTimer = setInterval(() => {
        try {
          this.videoSource.captureFrame(picture, BigInt(Date.now() - started) * 1000n);
        } catch (err) {
          this.error('video capture', err);
        }
      }, 1000 / VIDEO_FPS);
    } catch (err) {
      this.error('publish video', err);
    }
    log(this.label, 'published', [...lp.trackPublications.keys()].join(', ') || 'nothing');
  }

  stopMedia() {
    this.running = false;
    clearInterval(this.videoTimer);
  }

  /** Reads frames until the stream ends or the reader is cancelled. A stream failing once the
   * window is over (tracks going away during teardown) is not a finding. */
  async drain(stream, onValue) {
    const reader = stream.getReader();
    this.readers.push(reader);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        onValue(value);
      }
    } catch (err) {
      if (this.running) throw err;
      log(this.label, 'stream ended during teardown:', errorText(err));
    }
  }

  readVideo(track) {
    const video = { frames: 0, width: null, height: null, quadrants: null, mime: this.remoteVideoMime ?? null, dumped: [] };
    this.report.video = video;
    let firstAt = null;
    let measuredAt = 0;
    let dumpedAt = 0;
    return this.drain(new VideoStream(track), ({ frame }) => {
      const now = Date.now();
      firstAt ??= now;
      video.frames += 1;
      video.width = frame.width;
      video.height = frame.height;
      // Re-measure about once a second, so the report holds the settled picture.
      if (now - firstAt >= QUADRANT_AFTER_MS && now - measuredAt >= 1000) {
        measuredAt = now;
        video.quadrants = measureQuadrants(frame);
      }
      // With a dump directory, a raw I420 picture every half second (the Rust test reads the pattern).
      if (this.dumpDir && now - dumpedAt >= 500 && video.dumped.length < MAX_DUMPS) {
        dumpedAt = now;
        const i420 = frame.type === VideoBufferType.I420 ? frame : frame.convert(VideoBufferType.I420);
        const file = path.join(this.dumpDir, `frame-${video.dumped.length}-${i420.width}x${i420.height}.i420`);
        writeFileSync(file, i420.data);
        video.dumped.push(file);
      }
    });
  }

  readAudio(track, mime) {
    this.report.audio = { frequency: null, rms: null, samples: 0, frames: 0, mime };
    const skip = AUDIO_SKIP_S * SAMPLE_RATE;
    const stream = new AudioStream(track, { sampleRate: SAMPLE_RATE, numChannels: 1 });
    return this.drain(stream, (frame) => {
      this.report.audio.frames += 1;
      // Mix down in case the SDK hands over more channels than asked for.
      const channels = frame.channels;
      for (let i = 0; i < frame.samplesPerChannel; i++, this.audioSeen++) {
        if (this.audioSeen < skip || this.audioFilled >= this.audioSamples.length) continue;
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += frame.data[i * channels + c];
        this.audioSamples[this.audioFilled++] = sum / channels / 32768;
      }
    });
  }

  /** Turns the collected audio into the report's numbers; safe to call more than once. */
  analyse() {
    const audio = this.report.audio;
    if (!audio) return;
    const samples = this.audioSamples.subarray(0, this.audioFilled);
    audio.samples = samples.length;
    if (samples.length < SAMPLE_RATE / 10) return; // under 100 ms says nothing reliable
    let energy = 0;
    for (const s of samples) energy += s * s;
    audio.rms = Number(Math.sqrt(energy / samples.length).toFixed(4));
    audio.frequency = dominantFrequency(samples);
  }

  async close() {
    this.stopMedia();
    for (const reader of this.readers) reader.cancel().catch(() => {});
    if (this.report.connected) {
      try {
        await withTimeout(this.room.disconnect(), 5000, 'disconnect');
        log(this.label, 'disconnected');
      } catch (err) {
        this.error('disconnect', err);
      }
    }
    await this.tonePlaying;
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario

let printed = false;
function printReport(peers) {
  if (printed) return;
  printed = true;
  for (const peer of peers) peer.analyse();
  const [a, b] = peers;
  process.stdout.write(`${JSON.stringify({ a: a.report, b: b.report })}\n`);
}

async function twoPeers(opts, peers) {
  const [a, b] = peers;
  await Promise.all(peers.map((p) => p.connect(opts.url)));
  const connected = peers.filter((p) => p.report.connected);
  if (connected.length === 0) return;
  const both = connected.length === 2;
  const [aIdentity, bIdentity] = [a.report.identity, b.report.identity];

  await Promise.all(connected.map((p) => p.publish()));
  const windowEnd = Date.now() + opts.seconds * 1000;

  if (both) {
    // Data only reaches participants the server already has in the room, and B can only name
    // the sender of a packet once it knows A: wait until each side has seen the other.
    const seen = (peer, identity) => peer.report.remoteParticipants.includes(identity);
    if (!(await waitUntil(() => seen(a, bIdentity) && seen(b, aIdentity), 3000))) {
      if (!seen(a, bIdentity)) a.error('signalling', `B (${bIdentity}) never appeared to A`);
      if (!seen(b, aIdentity)) b.error('signalling', `A (${aIdentity}) never appeared to B`);
    }
    const lp = a.room.localParticipant;
    const raw = new TextEncoder().encode('raw from A');
    const steps = [
      ['sendText', () => lp.sendText('hello from A', { topic: 'lk.chat' })],
      ['publishData', () => lp.publishData(raw, { reliable: true, topic: 'colloque.raw' })],
      ['setAttributes', () => lp.setAttributes({ hand: 'up' })],
      ['updateMetadata', () => lp.updateMetadata('meta-A')],
    ];
    for (const [what, step] of steps) {
      try {
        await withTimeout(step(), STEP_TIMEOUT_MS, what);
      } catch (err) {
        a.error(what, err);
      }
    }
  }

  if (both && opts.resume) await resume(a, b);

  await sleep(Math.max(0, windowEnd - Date.now()));
  for (const peer of peers) peer.stopMedia();

  // A leaves first, so B can report that it saw A go.
  await a.close();
  if (both && !(await waitUntil(() => b.report.sawDisconnectOf.includes(aIdentity), DISCONNECT_WAIT_MS))) {
    log('B did not see A leave within', DISCONNECT_WAIT_MS, 'ms');
  }
  await b.close();
}

/** A loses its signalling connection (the SDK's own simulation closes the socket) and resumes. B chats
 * to A while A is away, A chats back once it is back; the report says whether A kept its session (same
 * sid, B never saw it leave) and whether media kept flowing both ways. */
async function resume(a, b) {
  const frames = (peer) => peer.report.video?.frames ?? 0;
  const report = { sidBefore: a.room.localParticipant.sid, sidAfter: null, bSawALeave: false };
  a.report.resume = report;
  try {
    await withTimeout(a.room.simulateScenario(SimulateScenarioKind.SIMULATE_SIGNAL_RECONNECT), STEP_TIMEOUT_MS, 'simulateScenario');
    await withTimeout(b.room.localParticipant.sendText('to A while away', { topic: 'lk.chat' }), STEP_TIMEOUT_MS, 'sendText');
    if (!(await waitUntil(() => a.report.reconnected > 0, RESUME_TIMEOUT_MS))) a.error('resume', 'no Reconnected event');
    report.sidAfter = a.room.localParticipant.sid;
    // Media after the resume: both sides' frame counters move on.
    const [aFrames, bFrames] = [frames(a), frames(b)];
    await waitUntil(() => frames(a) > aFrames + VIDEO_FPS && frames(b) > bFrames + VIDEO_FPS, 5000);
    report.framesAfter = { a: frames(a) - aFrames, b: frames(b) - bFrames };
    await withTimeout(a.room.localParticipant.sendText('from A after resume', { topic: 'lk.chat' }), STEP_TIMEOUT_MS, 'sendText');
    await waitUntil(() => b.report.chat.some((c) => c.text === 'from A after resume'), 5000);
    report.bSawALeave = b.report.sawDisconnectOf.includes(a.report.identity);
  } catch (err) {
    a.error('resume', err);
  }
}

function usage(message) {
  console.error(`${message}
usage: node scenario.mjs two-peers --url ws://HOST:PORT --token-a JWT --token-b JWT [--seconds 8] [--timeout S] [--resume]
  --resume: A loses its signalling connection mid-call and resumes (see resume()).
  --timeout is the hard budget after which the report is printed as it stands
  (default: the larger of 40 and seconds + 25).`);
  process.exit(2);
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'token-a': { type: 'string' },
        'token-b': { type: 'string' },
        seconds: { type: 'string', default: '8' },
        'codec-a': { type: 'string', default: 'vp8' },
        'codec-b': { type: 'string', default: 'vp8' },
        timeout: { type: 'string' },
        resume: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    usage(errorText(err));
  }
  const { values, positionals } = parsed;
  if (positionals[0] !== 'two-peers') usage(`unknown scenario: ${positionals[0] ?? '(none)'}`);
  if (!values.url || !values['token-a'] || !values['token-b']) usage('--url, --token-a and --token-b are required');
  const seconds = Number(values.seconds);
  // The default budget leaves room for connecting, the chat / attribute steps and leaving.
  const timeout = values.timeout === undefined ? Math.max(40, seconds + 25) : Number(values.timeout);
  if (!(seconds > 0) || !(timeout > 0)) usage('--seconds and --timeout must be positive numbers');

  routeSdkLogsToStderr();
  for (const c of [values['codec-a'], values['codec-b']]) {
    if (VideoCodec[c.toUpperCase()] === undefined) usage(`unknown video codec: ${c} (vp8, h264 or vp9)`);
  }
  const peers = [new Peer('a', values['token-a'], values['codec-a']), new Peer('b', values['token-b'], values['codec-b'])];
  const finish = async () => {
    printReport(peers);
    // Release the native side before leaving; a hang here must not keep the process alive.
    await withTimeout(dispose(), 3000, 'dispose').catch((err) => log('dispose:', errorText(err)));
    process.exit(0);
  };

  // Hard budget: whatever state the peers are in, the report still goes out.
  const budget = timeout * 1000;
  setTimeout(() => {
    for (const peer of peers) peer.report.errors.push(`scenario: overall timeout after ${budget / 1000} s`);
    log('overall timeout, reporting what was gathered');
    finish();
  }, budget);
  // A stray rejection inside the SDK should show up in the report, not kill the run.
  process.on('unhandledRejection', (err) => {
    log('unhandled rejection:', err);
    for (const peer of peers) peer.report.errors.push(`scenario: unhandled rejection: ${errorText(err)}`);
  });

  await twoPeers({ url: values.url, seconds, resume: values.resume }, peers);
  await finish();
}

// Importable for offline checks of the measurement code; runs only as a script.
// server_api.mjs reuses the tone generator, the SDK log redirection and the two wait helpers.
export {
  Peer,
  dominantFrequency,
  measureQuadrants,
  playTone,
  quadrantPicture,
  routeSdkLogsToStderr,
  waitUntil,
  withTimeout,
};
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
