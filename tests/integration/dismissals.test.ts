/**
 * Dismissed everywhere: `daemon.dismiss` on one device reaches the user's
 * other connected devices as a `dismissed` event, never the sender and never
 * another user's devices, through the signal between nodes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDevice } from '../../src/server/domain/devices.ts';
import type { Database } from '../../src/server/platform/db/client.ts';
import type { PresenceNode } from '../../src/server/server.ts';
import { connectChannel, type ChannelClient } from '../support/daemonClient.ts';
import { makeDaemonUser } from '../support/factories.ts';
import { useTestNode } from '../support/node.ts';
import { SIGNALLING_CALLS_PER_SECOND } from '../../src/server/trpc/routers/daemon.ts';

let node: PresenceNode;
let db: Database;
useTestNode((started) => ({ node, db } = started));

const open: ChannelClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

async function connected(token: string): Promise<ChannelClient> {
  const client = connectChannel(node.url, token);
  open.push(client);
  await client.event(0); // the backlog: the subscription runs
  return client;
}

describe('daemon.dismiss', () => {
  it('closes the items on the same user’s other devices only, not on the sender nor on another user’s devices', async () => {
    const user = await makeDaemonUser(db);
    const second = await createDevice(db, { userId: user.userId, name: 'second device' });
    const stranger = await makeDaemonUser(db);
    const [laptop, phone, other] = await Promise.all([connected(user.token), connected(second.token), connected(stranger.token)]);

    expect(await laptop.dismiss(['41', '42', '41'])).toEqual({ dismissed: 2 });
    await expect.poll(() => phone.dismissals).toEqual([['41', '42']]);
    expect(await phone.dismiss(['43'])).toEqual({ dismissed: 1 });
    // Signals arrive in commit order: had the laptop been told of its own dismissal, it would have come first.
    await expect.poll(() => laptop.dismissals).toEqual([['43']]);
    expect(other.dismissals).toEqual([]);
    expect(phone.dismissals).toEqual([['41', '42']]);
  });

  it('takes a bounded list of item ids', async () => {
    const user = await makeDaemonUser(db);
    const daemon = await connected(user.token);
    const tooMany = Array.from({ length: 101 }, (_, i) => String(i + 1));
    await expect(daemon.dismiss(tooMany)).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
    await expect(daemon.dismiss([])).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
    await expect(daemon.dismiss(['not-an-id'])).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
  });

  it('refuses a flood of dismissals from one socket with TOO_MANY_REQUESTS, so one device cannot keep every node waking', async () => {
    const user = await makeDaemonUser(db);
    const second = await createDevice(db, { userId: user.userId, name: 'second device' });
    const [flooder, phone] = await Promise.all([connected(user.token), connected(second.token)]);
    const answers = await Promise.allSettled(Array.from({ length: 3 * SIGNALLING_CALLS_PER_SECOND }, (_, i) => flooder.dismiss([String(i + 1)])));
    const refused = answers.filter((a) => a.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(SIGNALLING_CALLS_PER_SECOND);
    for (const answer of refused) expect(answer.reason).toMatchObject({ data: { code: 'TOO_MANY_REQUESTS' } });
    // What was taken still reaches the other device.
    await expect.poll(() => phone.dismissals.flat().length).toBe(answers.length - refused.length);
  });
});
