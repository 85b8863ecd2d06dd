#!/usr/bin/env node
// The SFU's server API (Twirp RoomService) and webhooks, driven through LiveKit's own server SDK
// (livekit-server-sdk), with two @livekit/rtc-node participants in the room to observe the effects.
//
//   node server_api.mjs --url http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT --api-key KEY \
//     --api-secret SECRET --room NAME [--webhook-port N] [--timeout S]
//
// Everything for humans goes to stderr. stdout carries exactly one line: the JSON report
// {rooms, calls, alice, bob, webhooks, errors}. The exit code is 0 whenever that report was
// printed, even if calls failed: the Rust test makes the assertions. See README.md.

import { webcrypto } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import {
  AudioSource,
  DisconnectReason,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource as RtcTrackSource,
  dispose,
} from '@livekit/rtc-node';
import {
  AccessToken,
  DataPacket_Kind,
  ParticipantInfo_State,
  RoomServiceClient,
  TrackSource,
  TrackType,
  WebhookReceiver,
} from 'livekit-server-sdk';

import { playTone, routeSdkLogsToStderr, waitUntil, withTimeout } from './scenario.mjs';

const SAMPLE_RATE = 48_000;
const TONE_HZ = 440;
const WRONG_SECRET = 'wrongsecretwrongsecretwrongsecret';
const CONNECT_TIMEOUT_MS = 10_000;
const PUBLISH_TIMEOUT_MS = 10_000;
const SEE_EACH_OTHER_MS = 5000; // both joined, and bob knows alice's track
const OBSERVE_MS = 3000; // how long a participant gets to see the effect of a server call
const REQUEST_TIMEOUT_S = 5; // per Twirp request (the SDK's own default is 10 s)
const LATE_WEBHOOKS_MS = 1000;
const DATA_TOPIC = 'colloque.api';
const DATA_TEXT = 'server says hi';

const started = Date.now();
const elapsed = () => Date.now() - started;
const log = (...msg) => console.error(`[${(elapsed() / 1000).toFixed(2)}s]`, ...msg);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const errorText = (err) => (err instanceof Error ? err.message : String(err));

// livekit-server-sdk signs and hashes with the global Web Crypto object, which Node only has
// without a flag from 19 on (its `engines` says >= 19). Debian 12's Node 18 has it in node:crypto.
globalThis.crypto ??= webcrypto;

// livekit-server-sdk logs with console.debug / console.log in places (error-body parsing,
// for one), which would land on stdout. Only the report may go there.
console.log = console.info = console.debug = (...args) => console.error(...args);

/** An error as the report carries it: the SDK's ServerError adds the HTTP status, the Twirp code
 * and meta; anything else (network failure, bad JSON) has only a message. */
function errorRecord(err) {
  const record = { message: errorText(err) };
  if (err && typeof err === 'object') {
    // A ServerError's `name` is the HTTP status text; for anything else it is the error class.
    if (err.status !== undefined) record.statusText = err.name;
    else if (err.name && err.name !== 'Error') record.name = err.name;
    if (err.status !== undefined) record.status = err.status;
    if (err.code !== undefined) record.code = err.code;
    if (err.metadata !== undefined) record.metadata = err.metadata;
    if (err.cause) record.cause = errorText(err.cause);
  }
  return record;
}

const enumName = (enumObject, value) => enumObject[value] ?? value ?? null;

const roomSummary = (room) =>
  room ? { sid: room.sid, name: room.name, metadata: room.metadata, numParticipants: room.numParticipants } : null;

const trackSummary = (track) =>
  track
    ? {
        sid: track.sid,
        name: track.name,
        type: enumName(TrackType, track.type),
        source: enumName(TrackSource, track.source),
        muted: track.muted,
      }
    : null;

const participantSummary = (p) => ({
  sid: p.sid,
  identity: p.identity,
  state: enumName(ParticipantInfo_State, p.state),
  metadata: p.metadata,
  attributes: { ...p.attributes },
  numTracks: p.tracks.length,
  tracks: p.tracks.map(trackSummary),
});

// ---------------------------------------------------------------------------------------------
// Webhook sink

/** Records every POST in arrival order and checks it with the SDK's WebhookReceiver. */
class WebhookSink {
  constructor(apiKey, apiSecret) {
    this.receiver = new WebhookReceiver(apiKey, apiSecret);
    this.records = [];
    this.pending = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  listen(port) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve(this.server.address().port);
      });
    });
  }

  handle(req, res) {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      // The record is taken now, so the list keeps arrival order whatever verification costs.
      const body = Buffer.concat(chunks).toString('utf8');
      const record = {
        event: null,
        room: null,
        participant: null,
        track: null,
        verified: false,
        error: null,
        id: null,
        path: req.url,
        contentType: req.headers['content-type'] ?? null,
        authorization: req.headers.authorization ?? null,
        body,
      };
      this.records.push(record);
      res.writeHead(200).end();
      const done = this.verify(record);
      this.pending.add(done);
      done.finally(() => this.pending.delete(done));
    });
  }

  async verify(record) {
    let event;
    try {
      event = await this.receiver.receive(record.body, record.authorization ?? undefined);
      record.verified = true;
    } catch (err) {
      record.error = errorText(err);
      // Still say what was posted, from the raw JSON.
      try {
        event = JSON.parse(record.body);
      } catch {
        event = null;
      }
    }
    record.event = event?.event || null;
    record.room = event?.room?.name || null;
    record.participant = event?.participant?.identity || null;
    record.track = event?.track?.sid || null;
    record.id = event?.id || null;
    log('webhook', record.event, record.room ?? '', record.participant ?? '', record.track ?? '',
      record.verified ? 'verified' : `NOT verified: ${record.error}`);
  }

  async close() {
    await Promise.allSettled([...this.pending]);
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// Participants

class Participant {
  constructor(identity) {
    this.identity = identity;
    this.room = new Room();
    this.running = false;
    this.report = { identity, connected: false, trackSid: null, events: [], errors: [] };
    this.listen();
  }

  error(what, err) {
    const text = `${what}: ${errorText(err)}`;
    log(this.identity, text);
    this.report.errors.push(text);
  }

  record(type, fields = {}) {
    const event = { type, at: elapsed(), ...fields };
    log(this.identity, 'event', JSON.stringify(event));
    this.report.events.push(event);
    return event;
  }

  /** The first event of `type` recorded at or after `since` (ms) that satisfies `match`. */
  find(type, match = () => true, since = 0) {
    return this.report.events.find((e) => e.type === type && e.at >= since && match(e)) ?? null;
  }

  /** Waits up to `ms` for such an event; returns it, or null. */
  async expect(type, match = () => true, since = 0, ms = OBSERVE_MS) {
    await waitUntil(() => this.find(type, match, since) !== null, ms);
    return this.find(type, match, since);
  }

  listen() {
    const room = this.room;
    const on = (event, handler) =>
      room.on(event, (...args) => {
        try {
          handler(...args);
        } catch (err) {
          this.error(event, err);
        }
      });

    on(RoomEvent.ParticipantConnected, (p) => this.record('participantConnected', { identity: p.identity }));
    on(RoomEvent.ParticipantDisconnected, (p) => this.record('participantDisconnected', { identity: p.identity }));
    on(RoomEvent.TrackPublished, (pub, p) => this.record('trackPublished', { identity: p.identity, sid: pub.sid }));
    on(RoomEvent.TrackSubscribed, (track, pub, p) =>
      this.record('trackSubscribed', { identity: p.identity, sid: pub.sid }));
    on(RoomEvent.TrackMuted, (pub, p) => this.record('trackMuted', { identity: p?.identity ?? null, sid: pub.sid }));
    on(RoomEvent.TrackUnmuted, (pub, p) =>
      this.record('trackUnmuted', { identity: p?.identity ?? null, sid: pub.sid }));
    on(RoomEvent.ParticipantAttributesChanged, (changed, p) =>
      this.record('attributesChanged', { identity: p.identity, changed: { ...changed }, attributes: { ...p.attributes } }));
    on(RoomEvent.ParticipantMetadataChanged, (metadata, p) =>
      this.record('metadataChanged', { identity: p.identity, metadata: metadata ?? null }));
    on(RoomEvent.ParticipantNameChanged, (name, p) => this.record('nameChanged', { identity: p.identity, name }));
    on(RoomEvent.DataReceived, (payload, p, kind, topic) =>
      this.record('dataReceived', {
        text: new TextDecoder().decode(payload),
        topic: topic ?? null,
        participant: p?.identity ?? null,
        kind: kind ?? null,
      }));
    on(RoomEvent.RoomMetadataChanged, (metadata) => this.record('roomMetadataChanged', { metadata }));
    on(RoomEvent.Reconnecting, () => this.record('reconnecting'));
    on(RoomEvent.Reconnected, () => this.record('reconnected'));
    on(RoomEvent.Disconnected, (reason) =>
      this.record('disconnected', { reason: reason ?? null, reasonName: enumName(DisconnectReason, reason) }));
  }

  async connect(url, token) {
    try {
      await withTimeout(this.room.connect(url, token, { autoSubscribe: true, dynacast: false }), CONNECT_TIMEOUT_MS, 'connect');
      this.report.connected = true;
      log(this.identity, 'connected');
    } catch (err) {
      this.error('connect', err);
    }
  }

  /** Publishes a microphone track carrying a sine tone, fed until close(). */
  async publishTone() {
    try {
      const source = new AudioSource(SAMPLE_RATE, 1, 100);
      const track = LocalAudioTrack.createAudioTrack('api-tone', source);
      const options = new TrackPublishOptions({ source: RtcTrackSource.SOURCE_MICROPHONE });
      const publication = await withTimeout(this.room.localParticipant.publishTrack(track, options), PUBLISH_TIMEOUT_MS, 'publish');
      this.report.trackSid = publication.sid;
      this.running = true;
      this.tone = playTone(source, TONE_HZ, () => this.running).catch((err) => {
        if (this.running) this.error('audio capture', err);
      });
      log(this.identity, 'published', publication.sid);
    } catch (err) {
      this.error('publish audio', err);
    }
  }

  knows(identity) {
    return this.room.remoteParticipants.has(identity);
  }

  knowsTrack(identity, sid) {
    return !!sid && !!this.room.remoteParticipants.get(identity)?.trackPublications.has(sid);
  }

  async close() {
    this.running = false;
    if (this.room.isConnected) {
      try {
        await withTimeout(this.room.disconnect(), 5000, 'disconnect');
      } catch (err) {
        this.error('disconnect', err);
      }
    }
    await this.tone;
  }
}

async function joinToken(apiKey, apiSecret, room, identity) {
  const token = new AccessToken(apiKey, apiSecret, { identity, ttl: '10m' });
  // canPublish / canSubscribe / canPublishData are spelled out rather than left to LiveKit's
  // "absent means allowed" default, so this scenario does not depend on it.
  token.addGrant({
    roomJoin: true,
    room,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: true,
  });
  return token.toJwt();
}

// ---------------------------------------------------------------------------------------------
// Scenario

async function run(opts, report, alice, bob) {
  const { room } = opts;
  const clientOptions = { requestTimeout: REQUEST_TIMEOUT_S, failover: false };
  const api = new RoomServiceClient(opts.url, opts.apiKey, opts.apiSecret, clientOptions);

  /** Runs one server call and records `{ok, result}` or `{ok: false, error}` under `name`. */
  async function call(name, fn, summarise = (r) => r ?? null) {
    const at = elapsed();
    try {
      const result = summarise(await fn());
      report.calls[name] = { ok: true, result, at, ms: elapsed() - at };
      log('call', name, 'ok', JSON.stringify(result));
    } catch (err) {
      report.calls[name] = { ok: false, error: errorRecord(err), at, ms: elapsed() - at };
      log('call', name, 'failed:', JSON.stringify(report.calls[name].error));
    }
    return report.calls[name];
  }
  const names = (rooms) => rooms.map((r) => r.name);

  await call('createRoom', () => api.createRoom({ name: room }), roomSummary);
  report.rooms.afterCreate = (await call('listRooms', () => api.listRooms(), names)).result ?? null;

  const [aliceToken, bobToken] = await Promise.all(
    ['alice', 'bob'].map((identity) => joinToken(opts.apiKey, opts.apiSecret, room, identity)),
  );
  await Promise.all([alice.connect(opts.ws, aliceToken), bob.connect(opts.ws, bobToken)]);
  if (alice.report.connected) await alice.publishTone();
  const trackSid = alice.report.trackSid;
  if (alice.report.connected && bob.report.connected) {
    const ready = () => alice.knows('bob') && bob.knows('alice') && (!trackSid || bob.knowsTrack('alice', trackSid));
    if (!(await waitUntil(ready, SEE_EACH_OTHER_MS))) {
      if (!alice.knows('bob')) alice.error('signalling', 'bob never appeared');
      if (!bob.knows('alice')) bob.error('signalling', 'alice never appeared');
      else if (trackSid && !bob.knowsTrack('alice', trackSid)) bob.error('signalling', `alice's track ${trackSid} never appeared`);
    }
  }

  await call('listParticipants', () => api.listParticipants(room), (ps) => ps.map(participantSummary));
  await call('getParticipant', () => api.getParticipant(room, 'alice'), participantSummary);

  const update = await call(
    'updateParticipant',
    () => api.updateParticipant(room, 'alice', { attributes: { role: 'host' }, metadata: 'from-api' }),
    participantSummary,
  );
  const [attributes, metadata] = await Promise.all([
    bob.expect('attributesChanged', (e) => e.identity === 'alice' && e.attributes.role === 'host', update.at),
    bob.expect('metadataChanged', (e) => e.identity === 'alice' && e.metadata === 'from-api', update.at),
  ]);
  update.seenByBob = { attributes: attributes?.attributes ?? null, metadata: metadata?.metadata ?? null };

  const send = await call('sendData', () =>
    api.sendData(room, Buffer.from(DATA_TEXT), DataPacket_Kind.RELIABLE, {
      destinationIdentities: ['bob'],
      topic: DATA_TOPIC,
    }));
  send.seenByBob = await bob.expect('dataReceived', (e) => e.text === DATA_TEXT, send.at);
  // Only bob was addressed; alice had the same window, so anything she got is a finding.
  send.seenByAlice = alice.find('dataReceived', (e) => e.text === DATA_TEXT, send.at);

  const mute = await call(
    'mutePublishedTrack',
    () => (trackSid ? api.mutePublishedTrack(room, 'alice', trackSid, true) : Promise.reject(new Error('alice has no track'))),
    trackSummary,
  );
  mute.seenByBob = await bob.expect('trackMuted', (e) => e.identity === 'alice' && e.sid === trackSid, mute.at);

  await call('getParticipantMissing', () => api.getParticipant(room, 'nobody'), participantSummary);
  const wrong = new RoomServiceClient(opts.url, opts.apiKey, WRONG_SECRET, clientOptions);
  await call('listParticipantsWrongSecret', () => wrong.listParticipants(room), (ps) => ps.map(participantSummary));

  const remove = await call('removeParticipant', () => api.removeParticipant(room, 'bob'));
  remove.seenByBob = await bob.expect('disconnected', undefined, remove.at);
  remove.seenByAlice = await alice.expect('participantDisconnected', (e) => e.identity === 'bob', remove.at, 1000);

  const roomMeta = await call('updateRoomMetadata', () => api.updateRoomMetadata(room, 'room-meta'), roomSummary);
  roomMeta.seenByAlice = await alice.expect('roomMetadataChanged', (e) => e.metadata === 'room-meta', roomMeta.at);

  const del = await call('deleteRoom', () => api.deleteRoom(room));
  del.seenByAlice = await alice.expect('disconnected', undefined, del.at);
  report.rooms.afterDelete = (await call('listRoomsAfterDelete', () => api.listRooms(), names)).result ?? null;
}

// ---------------------------------------------------------------------------------------------

function usage(message) {
  console.error(`${message}
usage: node server_api.mjs --url http://HOST:PORT --ws ws://HOST:PORT --api-key KEY --api-secret SECRET
         --room NAME [--webhook-port N] [--timeout S]
  --webhook-port: listen on 127.0.0.1:N and record every webhook POSTed there
  --timeout: hard budget in seconds (default 40) after which the report is printed as it stands`);
  process.exit(2);
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        ws: { type: 'string' },
        'api-key': { type: 'string' },
        'api-secret': { type: 'string' },
        room: { type: 'string' },
        'webhook-port': { type: 'string' },
        timeout: { type: 'string', default: '40' },
      },
    }));
  } catch (err) {
    usage(errorText(err));
  }
  const missing = ['url', 'ws', 'api-key', 'api-secret', 'room'].filter((k) => !values[k]);
  if (missing.length) usage(`missing: ${missing.map((k) => `--${k}`).join(', ')}`);
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) usage('--timeout must be a positive number');
  const webhookPort = values['webhook-port'] === undefined ? null : Number(values['webhook-port']);
  if (webhookPort !== null && !(Number.isInteger(webhookPort) && webhookPort >= 0 && webhookPort < 65536)) {
    usage('--webhook-port must be a port number');
  }
  const opts = {
    url: values.url,
    ws: values.ws,
    apiKey: values['api-key'],
    apiSecret: values['api-secret'],
    room: values.room,
  };

  routeSdkLogsToStderr();
  const report = { rooms: { afterCreate: null, afterDelete: null }, calls: {}, alice: null, bob: null, webhooks: [], errors: [] };
  const alice = new Participant('alice');
  const bob = new Participant('bob');
  let sink = null;

  let printed = false;
  const print = () => {
    if (printed) return;
    printed = true;
    report.alice = alice.report;
    report.bob = bob.report;
    report.webhooks = sink ? sink.records : [];
    const json = JSON.stringify(report, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    process.stdout.write(`${json}\n`);
  };
  const finish = async () => {
    print();
    await Promise.allSettled([alice.close(), bob.close()]);
    // Release the native side before leaving; a hang here must not keep the process alive.
    await withTimeout(dispose(), 3000, 'dispose').catch((err) => log('dispose:', errorText(err)));
    process.exit(0);
  };

  // Hard budget: whatever state the run is in, the report still goes out.
  setTimeout(() => {
    report.errors.push(`server_api: overall timeout after ${timeout} s`);
    log('overall timeout, reporting what was gathered');
    finish();
  }, timeout * 1000);
  process.on('unhandledRejection', (err) => {
    log('unhandled rejection:', err);
    report.errors.push(`server_api: unhandled rejection: ${errorText(err)}`);
  });

  if (webhookPort !== null) {
    sink = new WebhookSink(opts.apiKey, opts.apiSecret);
    try {
      const port = await sink.listen(webhookPort);
      log(`webhooks: listening on http://127.0.0.1:${port}/`);
    } catch (err) {
      report.errors.push(`webhook listener on 127.0.0.1:${webhookPort}: ${errorText(err)}`);
      log('webhook listener failed:', errorText(err));
    }
  }

  try {
    await run(opts, report, alice, bob);
  } catch (err) {
    report.errors.push(`server_api: ${errorText(err)}`);
    log('run failed:', err);
  }
  // Leave first (if the server did not already remove us), then give late webhooks — leaves,
  // room_finished — a moment to arrive before reporting.
  await Promise.allSettled([alice.close(), bob.close()]);
  await sleep(LATE_WEBHOOKS_MS);
  if (sink) await withTimeout(sink.close(), 2000, 'webhook listener close').catch(() => {});
  await finish();
}

await main();
