#!/usr/bin/env node
// An @livekit/rtc-node peer for the native client's interop tests: it joins, waits for the native client
// to appear, sends it a chat message (a text stream on lk.chat, as LiveKit's SDKs do), and stays until the
// native client's message has arrived (or --timeout), then leaves.
//
//   node chat_peer.mjs --url ws://127.0.0.1:PORT --token JWT --expect IDENTITY --send TEXT --await TEXT
//                      [--publish vp8|vp9|h264] [--stay S] [--dump DIR]
//
// With --publish it also publishes peer A's tone and quadrant picture (scenario.mjs) in that codec.
// --stay keeps receiving media for S seconds after the chat exchange; --dump writes received pictures as
// raw I420 files into DIR (names in the report's video.dumped). --captions makes it act as a transcription
// agent for its own microphone (needs --publish): segment SG_1 interim then final as lk.transcription text
// streams, then SG_2 as a legacy Transcription packet, before its chat message.
//
// stdout carries one line: the JSON report (the Peer report of scenario.mjs). Exit code 0 whenever it was
// printed; the Rust test makes the assertions.

import { parseArgs } from 'node:util';

import { dispose, TrackKind } from '@livekit/rtc-node';

import { Peer, routeSdkLogsToStderr, waitUntil, withTimeout } from './scenario.mjs';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    token: { type: 'string' },
    expect: { type: 'string' },
    send: { type: 'string' },
    await: { type: 'string' },
    timeout: { type: 'string', default: '30' },
    publish: { type: 'string' },
    stay: { type: 'string', default: '0' },
    dump: { type: 'string' },
    captions: { type: 'boolean', default: false },
  },
});
if (!values.url || !values.token || !values.expect || !values.send || !values.await) {
  console.error('usage: node chat_peer.mjs --url URL --token JWT --expect IDENTITY --send TEXT --await TEXT [--timeout S]');
  process.exit(2);
}
routeSdkLogsToStderr();
const budget = Number(values.timeout) * 1000;
const peer = new Peer('a', values.token, values.publish ?? 'vp8');
peer.dumpDir = values.dump ?? null;
const finish = async () => {
  await peer.close();
  peer.analyse();
  process.stdout.write(`${JSON.stringify(peer.report)}\n`);
  await withTimeout(dispose(), 3000, 'dispose').catch(() => {});
  process.exit(0);
};
setTimeout(() => {
  peer.report.errors.push(`overall timeout after ${budget / 1000} s`);
  finish();
}, budget);

/** Captions of this peer's own microphone, the two ways LiveKit's agents send them. */
async function sendCaptions(peer) {
  const local = peer.room.localParticipant;
  const mic = [...local.trackPublications.values()].find((p) => p.kind === TrackKind.KIND_AUDIO);
  if (!mic) return peer.error('captions', 'no microphone published (give --publish)');
  const attributes = (final) => ({
    'lk.segment_id': 'SG_1',
    'lk.transcribed_track_id': mic.sid,
    'lk.transcription_final': String(final),
  });
  try {
    await withTimeout(local.sendText('bonjour', { topic: 'lk.transcription', attributes: attributes(false) }), 10_000, 'caption');
    await withTimeout(local.sendText('bonjour à tous', { topic: 'lk.transcription', attributes: attributes(true) }), 10_000, 'caption');
    const segment = { id: 'SG_2', text: 'deuxième phrase', startTime: 0n, endTime: 0n, language: 'fr', final: true };
    await withTimeout(
      local.publishTranscription({ participantIdentity: local.identity, trackSid: mic.sid, segments: [segment] }),
      10_000,
      'transcription',
    );
  } catch (err) {
    peer.error('captions', err);
  }
}

await peer.connect(values.url);
if (peer.report.connected && values.publish) await peer.publish();
if (peer.report.connected) {
  if (!(await waitUntil(() => peer.report.remoteParticipants.includes(values.expect), budget / 2))) {
    peer.error('signalling', `${values.expect} never appeared`);
  } else {
    if (values.captions) await sendCaptions(peer);
    try {
      await withTimeout(peer.room.localParticipant.sendText(values.send, { topic: 'lk.chat' }), 10_000, 'sendText');
    } catch (err) {
      peer.error('sendText', err);
    }
    if (!(await waitUntil(() => peer.report.chat.some((c) => c.text === values.await), budget / 2))) {
      peer.error('chat', `"${values.await}" never arrived`);
    }
    // Time for a second copy to show up, if one were sent, and for media to flow.
    await new Promise((resolve) => setTimeout(resolve, Math.max(500, Number(values.stay) * 1000)));
  }
}
await finish();
