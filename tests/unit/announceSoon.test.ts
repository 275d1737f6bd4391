/** One announcement to the dashboards for the changes of a moment (src/server/platform/signals.ts, announceSoon). */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { announceSoon } from '../../src/server/platform/signals.ts';

/** A pool that records what it is asked to run. */
function recordingPool() {
  const sent: string[] = [];
  const pool = { query: async (text: string) => void sent.push(text) } as unknown as pg.Pool;
  return { db: { pool }, sent };
}

const afterTheWindow = () => new Promise((resolve) => setTimeout(resolve, 400));

describe('announceSoon', () => {
  it('sends one NOTIFY per topic for every change asked for within the window, and a new one after it', async () => {
    const { db, sent } = recordingPool();
    for (let n = 0; n < 3; n++) announceSoon(db, 'queues');
    announceSoon(db, 'devices');
    expect(sent).toEqual([]);
    await afterTheWindow();
    expect(sent.toSorted()).toEqual([`SELECT pg_notify('presence_activity', 'devices')`, `SELECT pg_notify('presence_activity', 'queues')`]);

    announceSoon(db, 'queues');
    await afterTheWindow();
    expect(sent.filter((text) => text.endsWith(`'queues')`))).toHaveLength(2);
  });

  it('keeps each pool’s announcements apart, and one that failed does not stop the next', async () => {
    let tried = 0;
    const failing = { pool: { query: async () => Promise.reject(new Error(`the database is down (${++tried})`)) } as unknown as pg.Pool };
    const { db, sent } = recordingPool();
    announceSoon(failing, 'queues');
    announceSoon(db, 'queues');
    await afterTheWindow();
    expect([tried, sent.length]).toEqual([1, 1]);
    announceSoon(failing, 'queues');
    await afterTheWindow();
    expect(tried).toBe(2);
  });
});
