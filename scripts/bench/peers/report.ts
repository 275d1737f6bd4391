/**
 * The peer rows of the report and the comparison table: Presence ÷ each peer
 * per measurement, beside Presence ÷ its own ceiling where there is one.
 */
import type { CapacityResult } from '../capacity.ts';
import type { IngestOutcome } from '../ingest.ts';
import type { LatencyResult } from '../latency.ts';
import type { CpuSplit } from '../proc.ts';
import { fmt, fmtBytes } from '../stats.ts';
import type { StormResult } from '../storm.ts';
import { PEERS, PEER_LABELS, type PeerName } from './brokers.ts';
import type { PeerResults } from './peers.ts';

type Row = [string, string, string, string, string, string];

export interface PeerComparisonInput {
  ingest: IngestOutcome | null;
  latency: LatencyResult[] | null;
  capacity: CapacityResult | null;
  storm: StormResult | null;
  peers: PeerResults | null;
}

const cpuText = (cpu: CpuSplit) =>
  `CPU broker ${cpu.server.toFixed(0)}${cpu.postgres > 0 ? `/pg ${cpu.postgres.toFixed(0)}` : ''}/load ${cpu.clients.toFixed(0)}/other ${cpu.other.toFixed(0)}%`;
const errorsText = (errors: Record<string, number>) =>
  Object.keys(errors).length
    ? `errors: ${Object.entries(errors)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}`
    : '';

/** One row per peer measurement, in the main table's columns (the peer in the service column). */
export function peerTableRows(peers: PeerResults | null): Row[] {
  if (!peers) return [];
  const rows: Row[] = [];
  for (const r of peers.ingest)
    rows.push([
      `peer ${PEER_LABELS[r.peer]}: acked publishes, ${r.batch === 1 ? 'single' : `${r.batch} pipelined`}`,
      `${r.concurrency} concurrent`,
      `${fmt(r.perSecond)}/s (p50 ${fmt(r.p50)}, p99 ${fmt(r.p99)} ms)`,
      '–',
      '–',
      [cpuText(r.cpu), errorsText(r.errors)].filter(Boolean).join('; '),
    ]);
  for (const r of peers.latency)
    rows.push([
      `peer ${PEER_LABELS[r.peer]}: publish→receipt`,
      `${fmt(r.rate, 0)}/s, ${fmt(r.subscribers, 0)} subscribers acking`,
      `p50 ${fmt(r.sendToReceipt.p50)} / p99 ${fmt(r.sendToReceipt.p99)} ms`,
      '–',
      '–',
      `${fmt(r.received, 0)}/${fmt(r.acked, 0)} received${r.skipped ? `; ${r.skipped} sends skipped` : ''}; ${fmt(r.cpuPerDeliveredUs)} µs broker CPU per delivered message; ${cpuText(r.cpu)}`,
    ]);
  for (const r of peers.memory)
    rows.push([
      `peer ${PEER_LABELS[r.peer]}: memory per idle subscriber`,
      `${fmt(r.subscribers, 0)} subscribers`,
      fmtBytes(r.perSubscriber),
      '–',
      '–',
      `${fmt(r.established, 0)} connected; RSS ${fmtBytes(r.rssBefore)} → ${fmtBytes(r.rssAfter)} (connection, session or durable consumer)`,
    ]);
  for (const r of peers.storm)
    rows.push([
      `peer ${PEER_LABELS[r.peer]}: reconnect storm`,
      `${fmt(r.subscribers, 0)} subscribers × 100 items`,
      Number.isFinite(r.drainedSeconds) ? `drained in ${fmt(r.drainedSeconds)} s` : `NOT drained: ${fmt(r.received, 0)}/${fmt(r.items, 0)} received`,
      '–',
      '–',
      `queues filled in ${fmt(r.fillSeconds)} s; ${cpuText(r.cpu)}`,
    ]);
  return rows;
}

interface Measurement {
  name: string;
  /** Lower is better (latency, CPU, memory, time) or higher (throughput). */
  better: 'lower' | 'higher';
  presence: number;
  unit: (n: number) => string;
  peer: (peer: PeerName) => number;
  ceiling?: string;
}

function measurements(input: PeerComparisonInput): Measurement[] {
  const p = input.peers;
  if (!p) return [];
  const list: Measurement[] = [];
  for (const rate of [...new Set(p.latency.map((r) => r.rate))]) {
    const presence = input.latency?.find((l) => l.rate === rate);
    const peerRow = (peer: PeerName) => p.latency.find((r) => r.peer === peer && r.rate === rate);
    list.push({
      name: `publish→receipt p99, ${rate}/s single messages, subscribers acking`,
      better: 'lower',
      presence: presence?.sendToReceipt.p99 ?? Number.NaN,
      unit: (n) => `${fmt(n)} ms`,
      peer: (peer) => peerRow(peer)?.sendToReceipt.p99 ?? Number.NaN,
    });
    list.push({
      name: `server CPU per delivered message at ${rate}/s (Presence: node + PostgreSQL)`,
      better: 'lower',
      presence:
        presence && presence.received > 0
          ? (((presence.cpu.server + presence.cpu.postgres) / 100) * presence.cpu.seconds * 1e6) / presence.received
          : Number.NaN,
      unit: (n) => `${fmt(n)} µs`,
      peer: (peer) => peerRow(peer)?.cpuPerDeliveredUs ?? Number.NaN,
    });
  }
  if (p.memory.length) {
    const last = input.capacity ? [...input.capacity.steps].reverse().find((s) => s.open > 0) : undefined;
    list.push({
      name: `memory per idle subscriber (peers: ${fmt(p.memory[0]?.subscribers ?? 0, 0)}; Presence: ${fmt(last?.open ?? 0, 0)} daemons)`,
      better: 'lower',
      presence: last?.perConnection ?? Number.NaN,
      unit: fmtBytes,
      peer: (peer) => p.memory.find((r) => r.peer === peer)?.perSubscriber ?? Number.NaN,
    });
  }
  for (const key of [...new Set(p.ingest.map((r) => `${r.batch}×${r.concurrency}`))]) {
    const [batch, concurrency] = key.split('×').map(Number) as [number, number];
    const presence = input.ingest?.rows.find((r) => r.batch === batch && r.concurrency === concurrency);
    list.push({
      name: `acked publishes/s, ${batch === 1 ? 'single messages' : `batches of ${batch} (peers: ${batch} pipelined)`}, ${concurrency} concurrent`,
      better: 'higher',
      presence: presence?.service.notificationsPerSecond ?? Number.NaN,
      unit: (n) => `${fmt(n)}/s`,
      peer: (peer) => p.ingest.find((r) => r.peer === peer && r.batch === batch && r.concurrency === concurrency)?.perSecond ?? Number.NaN,
      ceiling: presence ? fmt(presence.service.notificationsPerSecond / presence.ceiling.notificationsPerSecond) : '–',
    });
  }
  if (p.storm.length) {
    list.push({
      name: `storm: ${fmt(p.storm[0]?.subscribers ?? 0, 0)} offline subscribers × 100 queued, all reconnect, all received`,
      better: 'lower',
      presence: input.storm?.drainedSeconds ?? Number.NaN,
      unit: (n) => `${fmt(n)} s`,
      peer: (peer) => p.storm.find((r) => r.peer === peer)?.drainedSeconds ?? Number.NaN,
    });
  }
  return list;
}

/** The comparison section (markdown lines), empty when no peer ran. */
export function peerComparison(input: PeerComparisonInput): string[] {
  const list = measurements(input);
  if (!list.length) return [];
  const peers = PEERS.filter((peer) => input.peers?.versions[peer]);
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b)}×` : '–');
  const header = [
    'measurement (same run)',
    'Presence',
    ...peers.map((p) => `${PEER_LABELS[p]} ${input.peers?.versions[p]}`),
    ...peers.map((p) => `Presence ÷ ${PEER_LABELS[p]}`),
    'Presence ÷ ceiling',
    'better',
  ];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 || i === header.length - 1 ? '---' : '---:')).join(' | ')} |`];
  for (const m of list) {
    const values = peers.map((peer) => m.peer(peer));
    // A peer not measured in this row (the relay floor outside the latency rows) shows a dash.
    const shown = (v: number) => (Number.isFinite(v) ? m.unit(v) : '–');
    const cells = [m.name, shown(m.presence), ...values.map(shown), ...values.map((v) => ratio(m.presence, v)), m.ceiling ?? '–', m.better];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return [
    '## Presence and its peers',
    '',
    ...lines,
    '',
    'Peers: Mosquitto (MQTT QoS 1, persistent sessions, `max_queued_messages 100`, durability by periodic snapshot) and NATS JetStream' +
      ' (file storage, one stream, 100 per subject, discard old, a durable consumer per device with explicit acks, background fsync every 2 minutes),' +
      ' each a fresh broker per measurement on a free loopback port, driven by forked client processes (MQTT.js, nats.js) with the same workloads as the' +
      ' Presence rows, each right after the Presence phase it compares with. Presence commits with fsync before every ack. A ratio above 1 is Presence' +
      ' higher: better for throughput, worse for latency, CPU, memory and time. In the storm the peers reconnect to a running broker (Presence to a' +
      ' restarted node); "received" counts each message as it reaches its subscriber, which acknowledges it at once.' +
      " The relay floor is no broker but the floor under Presence's design, in the latency rows only: a bare relay on Node and the same PostgreSQL" +
      " (`scripts/bench/clients/relayFloor.ts`: a publish is an HTTP POST answered after its row's fsync'd commit, the message goes to its subscriber's" +
      " WebSocket, whose ack deletes it in a group gathered for 20 ms; no authentication, validation, cap, ack log or tRPC); its CPU counts its PostgreSQL's.",
    '',
  ];
}
