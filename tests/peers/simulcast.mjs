#!/usr/bin/env node
// Simulcast through Colloque's SFU, with LiveKit's own clients at both ends:
//   - P, the publisher, is the browser SDK (livekit-client) running in headless Chromium, sending
//     its fake camera at 1280x720 as VP8 simulcast in three layers (q 320x180, h 640x360, f 1280x720);
//   - S, the subscriber, is @livekit/rtc-node in this process. It asks the SFU for the LOW layer,
//     then HIGH, LOW, and (after holding LOW so that dynacast pauses the upper layers) HIGH again,
//     and reports the frame sizes it receives after each request.
// P also publishes its fake microphone (livekit-client sends it as RED when the server offers RED), which S
// receives; at the end P loses its signalling connection (livekit-client's own simulation) and must resume
// its session while S keeps receiving its video.
//
//   node simulcast.mjs --url ws://127.0.0.1:PORT --token-pub JWT --token-sub JWT [--timeout S]
//
// Everything for humans goes to stderr. stdout carries exactly one line: the JSON report
// {"publisher":{...},"subscriber":{...}}. The exit code is 0 whenever that report was printed,
// even if media or signalling failed: the Rust test makes the assertions. See README.md.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { AudioStream, Room, RoomEvent, TrackKind, VideoStream, dispose } from '@livekit/rtc-node';

import { openBrowserPage } from './browser.mjs';
import { routeSdkLogsToStderr, waitUntil, withTimeout } from './scenario.mjs';

const require = createRequire(import.meta.url);

const CAPTURE = { width: 1280, height: 720, frameRate: 30 };
// Simulcast layers below the captured one, lowest first, as livekit-client wants them.
// [width, height, maxBitrate, maxFramerate]
const LOW_LAYERS = [
  [320, 180, 150_000, 15],
  [640, 360, 500_000, 30],
];
const TOP_ENCODING = { maxBitrate: 1_700_000, maxFramerate: 30 };

const CONNECT_TIMEOUT_MS = 10_000;
const PUBLISH_TIMEOUT_MS = 15_000;
const FIRST_FRAME_TIMEOUT_MS = 15_000;
// A step is settled once the size has not changed for STABLE_MS (counted from the request at the
// earliest) and at least SETTLED_FPS frames arrived in the last second, or after STEP_MAX_MS.
const STABLE_MS = 2000;
const SETTLED_FPS = 5;
const STEP_MAX_MS = 8000;
const STEPS = ['LOW', 'HIGH', 'LOW', 'HIGH'];
// Before the last step the subscriber stays on LOW long enough for the server's dynacast to tell the
// publisher that nobody needs its upper layers (a downgrade waits 5 s, the first update 10 s after
// publishing); the publisher's sender stats are sampled then (label 'held LOW').
const DYNACAST_HOLD_MS = 8000;
const RESUME_TIMEOUT_MS = 15_000;
// After the resume, S must keep getting P's video for this long.
const AFTER_RESUME_MS = 2000;

const started = Date.now();
const elapsed = () => Date.now() - started;
const log = (...msg) => console.error(`[${(elapsed() / 1000).toFixed(2)}s]`, ...msg);
// First line only: errors thrown in the page come back with the page's stack appended.
const errorText = (err) => (err instanceof Error ? err.message : String(err)).split('\n')[0];


// ---------------------------------------------------------------------------------------------
// Asking for a layer from rtc-node

/**
 * Returns `{api, set(publication, 'LOW' | 'MEDIUM' | 'HIGH')}`.
 *
 * rtc-node 0.13.35's RemoteTrackPublication only has setSubscribed: neither setVideoQuality nor
 * setVideoDimensions. Its FFI layer (@livekit/rtc-ffi-bindings 0.12.73, the Rust SDK underneath)
 * does implement SetRemoteTrackPublicationQualityRequest, which is what a future setVideoQuality
 * would send, so without a public method that request is made directly through the SDK's own
 * FfiClient singleton (a CommonJS module, loaded by path like the logger above).
 */
function qualitySetter() {
  const sdkDir = path.dirname(require.resolve('@livekit/rtc-node'));
  const bindings = createRequire(path.join(sdkDir, 'index.cjs'))('@livekit/rtc-ffi-bindings');
  const { RemoteTrackPublication } = require(path.join(sdkDir, 'track_publication.cjs'));
  if (typeof RemoteTrackPublication.prototype.setVideoQuality === 'function') {
    // A later rtc-node with the public method: same enum values (LOW 0, MEDIUM 1, HIGH 2).
    return { api: 'setVideoQuality', set: (pub, q) => pub.setVideoQuality(bindings.VideoQuality[q]) };
  }
  const { FfiClient } = require(path.join(sdkDir, 'ffi_client.cjs'));
  return {
    api: 'ffi:setRemoteTrackPublicationQuality',
    set: (pub, q) => {
      const value = new bindings.SetRemoteTrackPublicationQualityRequest({
        trackPublicationHandle: pub.ffiHandle.handle,
        quality: bindings.VideoQuality[q],
      });
      FfiClient.instance.request({ message: { case: 'setRemoteTrackPublicationQuality', value } });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The browser side: a page that loads livekit-client's UMD bundle, served from node_modules

/* Runs in the page: connects and publishes the fake camera. Returns what the SDK and the
 * RTCRtpSender say was set up. Keeps the room on `window.P` for later calls. */
async function browserPublish({ url, token, capture, lowLayers, topEncoding }) {
  const LK = window.LivekitClient;
  const roomOptions = {
    adaptiveStream: false,
    // The publisher pauses the layers the server says nobody receives (SubscribedQualityUpdate).
    dynacast: true,
    // Two peer connections (publisher and subscriber), the protocol the SFU speaks.
    singlePeerConnection: false,
  };
  const room = new LK.Room(roomOptions);
  window.P = { room, reconnecting: 0, reconnected: 0 };
  room.on(LK.RoomEvent.Reconnecting, () => { window.P.reconnecting += 1; });
  room.on(LK.RoomEvent.Reconnected, () => { window.P.reconnected += 1; });
  await room.connect(url, token, { autoSubscribe: false });
  // The fake microphone, with livekit-client's defaults (RED and DTX on).
  const mic = await LK.createLocalAudioTrack();
  await room.localParticipant.publishTrack(mic, { source: LK.Track.Source.Microphone });
  const track = await LK.createLocalVideoTrack({ resolution: capture });
  const settings = track.mediaStreamTrack.getSettings();
  const publishOptions = {
    source: LK.Track.Source.Camera,
    videoCodec: 'vp8',
    backupCodec: false,
    simulcast: true,
    videoEncoding: topEncoding,
    videoSimulcastLayers: lowLayers.map(([w, h, bitrate, fps]) => new LK.VideoPreset(w, h, bitrate, fps)),
    degradationPreference: 'maintain-resolution',
  };
  const pub = await room.localParticipant.publishTrack(track, publishOptions);
  window.P.track = track;
  const params = track.sender?.getParameters();
  return {
    identity: room.localParticipant.identity,
    capture: { width: settings.width, height: settings.height, frameRate: settings.frameRate },
    trackSid: pub.trackSid,
    simulcast: pub.simulcasted ?? null,
    degradationPreference: params?.degradationPreference ?? null,
    // What the browser is configured to send, one entry per RTP encoding (rid).
    encodings: (params?.encodings ?? []).map((e) => ({
      rid: e.rid ?? null,
      active: e.active,
      scaleResolutionDownBy: e.scaleResolutionDownBy ?? null,
      maxBitrate: e.maxBitrate ?? null,
      maxFramerate: e.maxFramerate ?? null,
    })),
    // What the SDK announced to the server in AddTrackRequest.layers (echoed in TrackInfo).
    announcedLayers: (pub.trackInfo?.layers ?? []).map((l) => ({
      quality: l.quality, width: l.width, height: l.height, bitrate: l.bitrate,
    })),
  };
}

/* Runs in the page: the sender's per-layer statistics, straight from getStats(). */
async function browserSenderStats() {
  const track = window.P?.track;
  if (!track?.sender) return null;
  const stats = await track.sender.getStats();
  const layers = [];
  let availableOutgoingBitrate = null;
  stats.forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      layers.push({
        rid: s.rid ?? null,
        width: s.frameWidth ?? null,
        height: s.frameHeight ?? null,
        fps: s.framesPerSecond ?? null,
        framesEncoded: s.framesEncoded ?? 0,
        bytesSent: s.bytesSent ?? 0,
        targetBitrate: s.targetBitrate ?? null,
        active: s.active ?? null,
        qualityLimitationReason: s.qualityLimitationReason ?? null,
        pliCount: s.pliCount ?? 0,
        firCount: s.firCount ?? 0,
        nackCount: s.nackCount ?? 0,
      });
    } else if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate !== undefined) {
      availableOutgoingBitrate = s.availableOutgoingBitrate;
    }
  });
  layers.sort((a, b) => (a.width ?? Infinity) - (b.width ?? Infinity));
  return { availableOutgoingBitrate, layers };
}

/* Runs in the page: drops the signalling connection as livekit-client's own test hook does, and waits
 * for the SDK to say it is back. */
async function browserSignalReconnect(timeoutMs) {
  const P = window.P;
  const sidBefore = P.room.localParticipant.sid;
  await P.room.simulateScenario('signal-reconnect');
  const deadline = Date.now() + timeoutMs;
  while (P.reconnected === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return {
    sidBefore,
    sidAfter: P.room.localParticipant.sid,
    reconnecting: P.reconnecting,
    reconnected: P.reconnected,
    state: P.room.state,
  };
}

class Publisher {
  constructor(token) {
    this.token = token;
    this.report = { connected: false, identity: null, published: null, senderStats: [], errors: [] };
  }

  error(what, err) {
    const text = `${what}: ${errorText(err)}`;
    log('P', text);
    this.report.errors.push(text);
  }

  async start(url) {
    this.browser = await openBrowserPage((...m) => log('P', ...m), (err) => this.error('page error', err));
    const { page } = this.browser;
    this.page = page;
    log('P', 'Chromium', this.browser.chromiumVersion, 'livekit-client', this.browser.livekitVersion);
    const published = await withTimeout(page.evaluate(browserPublish, {
      url,
      token: this.token,
      capture: CAPTURE,
      lowLayers: LOW_LAYERS,
      topEncoding: TOP_ENCODING,
    }), CONNECT_TIMEOUT_MS + PUBLISH_TIMEOUT_MS, 'connect and publish');
    this.report.connected = true;
    this.report.identity = published.identity;
    const { encodings, ...rest } = published;
    // One entry per RTP encoding (rid), lowest first; sampleStats adds the size actually sent.
    this.report.published = { ...rest, layers: encodings.map((e) => ({ ...e, width: null, height: null, fps: null })) };
    log('P', 'published', JSON.stringify(published));
  }

  /** Samples the sender's statistics into the report, labelled with `label`. */
  async sampleStats(label) {
    if (!this.page) return null;
    try {
      const stats = await withTimeout(this.page.evaluate(browserSenderStats), 3000, 'sender stats');
      if (!stats) return null;
      const entry = { t: elapsed(), label, ...stats };
      this.report.senderStats.push(entry);
      for (const layer of this.report.published?.layers ?? []) {
        const sent = stats.layers.find((l) => l.rid === layer.rid);
        if (sent) Object.assign(layer, { width: sent.width, height: sent.height, fps: sent.fps });
      }
      log('P', 'sender stats', label, JSON.stringify(stats));
      return entry;
    } catch (err) {
      this.error('sender stats', err);
      return null;
    }
  }

  /** Drops and resumes the signalling connection (see browserSignalReconnect). */
  async signalReconnect() {
    try {
      this.report.resume = await withTimeout(
        this.page.evaluate(browserSignalReconnect, RESUME_TIMEOUT_MS), RESUME_TIMEOUT_MS + 2000, 'resume');
      log('P', 'resume', JSON.stringify(this.report.resume));
    } catch (err) {
      this.error('resume', err);
    }
  }

  async close() {
    try {
      if (this.page && this.report.connected) {
        await withTimeout(this.page.evaluate(() => window.P?.room?.disconnect()), 5000, 'disconnect');
      }
    } catch (err) {
      this.error('disconnect', err);
    }
    await this.browser?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The Node side

class Subscriber {
  constructor(token) {
    this.token = token;
    this.room = new Room();
    this.running = true;
    this.video = null; // {track, publication, from}, once subscribed
    this.frames = 0;
    this.frameTimes = []; // arrival time of every frame, for the per-step rate and gaps
    this.size = null; // [width, height] of the last frame
    this.changedAt = null; // when the size last changed
    this.report = {
      connected: false,
      identity: null,
      api: null,
      initial: null,
      steps: [],
      timeline: [],
      // P's microphone as S receives it: the codec the server announced, frames, loudest 10 ms (RMS).
      audio: null,
      sawLeaveOf: [],
      afterResume: null,
      errors: [],
    };
    this.room.on(RoomEvent.ParticipantDisconnected, (p) => {
      log('S', 'participant disconnected:', p.identity);
      this.report.sawLeaveOf.push(p.identity);
    });
    this.room.on(RoomEvent.TrackSubscribed, (track, publication, participant) => {
      log('S', 'subscribed to', participant.identity, track.kind === TrackKind.KIND_VIDEO ? 'video' : 'audio',
        publication.sid, 'simulcasted', publication.simulcasted,
        `${publication.width}x${publication.height}`);
      if (track.kind === TrackKind.KIND_AUDIO && !this.report.audio) {
        this.readAudio(track, publication).catch((err) => {
          if (this.running) this.error('audio stream', err);
        });
        return;
      }
      if (track.kind !== TrackKind.KIND_VIDEO || this.video) return;
      this.video = { track, publication, from: participant.identity };
      this.read(track).catch((err) => {
        if (this.running) this.error('video stream', err);
      });
    });
    this.room.on(RoomEvent.TrackSubscriptionFailed, (sid, p, reason) => {
      this.error('track subscription failed', `${sid} of ${p?.identity}: ${reason ?? 'no reason'}`);
    });
    this.room.on(RoomEvent.Disconnected, (reason) => log('S', 'room disconnected, reason', reason));
  }

  error(what, err) {
    const text = `${what}: ${errorText(err)}`;
    log('S', text);
    this.report.errors.push(text);
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
      log('S', 'connected as', this.report.identity);
    } catch (err) {
      this.error('connect', err);
    }
  }

  async read(track) {
    const reader = new VideoStream(track).getReader();
    this.reader = reader;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const { width, height } = value.frame;
      this.frames += 1;
      this.frameTimes.push(Date.now());
      if (!this.size || this.size[0] !== width || this.size[1] !== height) {
        const t = elapsed();
        log('S', `received size ${width}x${height}`, this.size ? `(was ${this.size.join('x')})` : '(first frame)');
        this.size = [width, height];
        this.changedAt = Date.now();
        this.report.timeline.push([t, width, height]);
      }
    }
  }

  async readAudio(track, publication) {
    const audio = { mime: publication.mimeType ?? null, frames: 0, peakRms: 0 };
    this.report.audio = audio;
    const reader = new AudioStream(track, { sampleRate: 48_000, numChannels: 1 }).getReader();
    this.audioReader = reader;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      audio.mime = publication.mimeType ?? audio.mime;
      audio.frames += 1;
      let energy = 0;
      for (const v of value.data) energy += (v / 32768) ** 2;
      const rms = Math.sqrt(energy / Math.max(1, value.data.length));
      if (rms > audio.peakRms) audio.peakRms = Number(rms.toFixed(4));
    }
  }

  /** Asks for `quality` and waits until the step has settled (see STABLE_MS). */
  async step(setter, quality, publisher) {
    const { publication } = this.video;
    const framesBefore = this.frames;
    const sizeBefore = this.size;
    const askedAt = Date.now();
    const entry = { asked: quality, at: elapsed(), width: null, height: null, frames: 0,
      switchMs: null, stable: false, lastSecondFrames: 0, maxGapMs: null };
    this.report.steps.push(entry);
    try {
      setter.set(publication, quality);
      log('S', 'asked for', quality, 'via', setter.api, 'while receiving', sizeBefore?.join('x') ?? 'nothing');
    } catch (err) {
      this.error(`ask ${quality}`, err);
    }
    // The entry is kept current while waiting, so a report cut short by the timeout still has it.
    const fill = () => {
      entry.frames = this.frames - framesBefore;
      if (this.size) [entry.width, entry.height] = this.size;
      // How long until the last size change after the request, if the size changed at all.
      if (this.changedAt >= askedAt) entry.switchMs = this.changedAt - askedAt;
      // Smoothness: frames in the step's last second, and the longest wait for a frame since the
      // request (a stall shows up here even when the size is right).
      const now = Date.now();
      const times = this.frameTimes.slice(framesBefore);
      entry.lastSecondFrames = times.filter((t) => now - t <= 1000).length;
      let gap = 0;
      let previous = askedAt;
      for (const t of [...times, now]) {
        gap = Math.max(gap, t - previous);
        previous = t;
      }
      entry.maxGapMs = gap;
    };
    const settled = () => {
      fill();
      return this.size && Date.now() - Math.max(this.changedAt, askedAt) >= STABLE_MS
        && entry.lastSecondFrames >= SETTLED_FPS;
    };
    entry.stable = await waitUntil(settled, STEP_MAX_MS);
    fill();
    await publisher.sampleStats(`after ${quality}`);
    log('S', 'step', JSON.stringify(entry));
  }

  async close() {
    this.running = false;
    this.reader?.cancel().catch(() => {});
    this.audioReader?.cancel().catch(() => {});
    if (this.report.connected) {
      try {
        await withTimeout(this.room.disconnect(), 5000, 'disconnect');
      } catch (err) {
        this.error('disconnect', err);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario

let printed = false;
function printReport(publisher, subscriber) {
  if (printed) return;
  printed = true;
  process.stdout.write(`${JSON.stringify({ publisher: publisher.report, subscriber: subscriber.report })}\n`);
}

async function simulcast(opts, publisher, subscriber) {
  let setter;
  try {
    setter = qualitySetter();
    subscriber.report.api = setter.api;
  } catch (err) {
    subscriber.error('no way to ask for a layer', err);
  }

  // S first, so that it is subscribed as soon as P publishes.
  await subscriber.connect(opts.url);
  try {
    await publisher.start(opts.url);
  } catch (err) {
    publisher.error('start', err);
  }
  if (!publisher.report.connected || !subscriber.report.connected) return;

  if (!(await waitUntil(() => subscriber.frames > 0, FIRST_FRAME_TIMEOUT_MS))) {
    subscriber.error('video', subscriber.video ? 'subscribed but no frame arrived' : 'never subscribed to P\'s video');
    await publisher.sampleStats('no frames');
    return;
  }
  // What the SFU sends before any request (LiveKit's default is the top layer): let it settle.
  await waitUntil(() => Date.now() - subscriber.changedAt >= STABLE_MS, STEP_MAX_MS);
  subscriber.report.initial = { width: subscriber.size[0], height: subscriber.size[1], frames: subscriber.frames };
  await publisher.sampleStats('initial');
  if (!setter) return;
  for (const [i, quality] of STEPS.entries()) {
    if (!subscriber.running) break; // the overall timeout has fired
    if (i === STEPS.length - 1) {
      await new Promise((resolve) => setTimeout(resolve, DYNACAST_HOLD_MS));
      await publisher.sampleStats('held LOW');
    }
    await subscriber.step(setter, quality, publisher);
  }
  if (!subscriber.running) return;
  await publisher.signalReconnect();
  const framesBefore = subscriber.frames;
  await new Promise((resolve) => setTimeout(resolve, AFTER_RESUME_MS));
  subscriber.report.afterResume = { frames: subscriber.frames - framesBefore, ms: AFTER_RESUME_MS };
}

function usage(message) {
  console.error(`${message}
usage: node simulcast.mjs --url ws://HOST:PORT --token-pub JWT --token-sub JWT [--timeout S]
  --timeout is the hard budget after which the report is printed as it stands (default 80).`);
  process.exit(2);
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        'token-pub': { type: 'string' },
        'token-sub': { type: 'string' },
        timeout: { type: 'string', default: '80' },
      },
    }));
  } catch (err) {
    usage(errorText(err));
  }
  if (!values.url || !values['token-pub'] || !values['token-sub']) {
    usage('--url, --token-pub and --token-sub are required');
  }
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) usage('--timeout must be a positive number');

  routeSdkLogsToStderr();
  const publisher = new Publisher(values['token-pub']);
  const subscriber = new Subscriber(values['token-sub']);
  let finishing = false;
  const finish = async () => {
    if (finishing) return;
    finishing = true;
    printReport(publisher, subscriber);
    await withTimeout(Promise.all([publisher.close(), subscriber.close()]), 8000, 'teardown')
      .catch((err) => log('teardown:', errorText(err)));
    await withTimeout(dispose(), 3000, 'dispose').catch((err) => log('dispose:', errorText(err)));
    process.exit(0);
  };

  const budget = timeout * 1000;
  setTimeout(() => {
    for (const peer of [publisher, subscriber]) peer.report.errors.push(`scenario: overall timeout after ${timeout} s`);
    log('overall timeout, reporting what was gathered');
    finish();
  }, budget);
  process.on('unhandledRejection', (err) => {
    log('unhandled rejection:', err);
    for (const peer of [publisher, subscriber]) peer.report.errors.push(`scenario: unhandled rejection: ${errorText(err)}`);
  });

  await simulcast({ url: values.url }, publisher, subscriber);
  await finish();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
