/** How the coalescer forms groups: what goes together, what waits, what fails with what. */
import { describe, expect, it } from 'vitest';
import { Coalescer, type JobOutcome } from '../../src/server/platform/db/coalescer.ts';

interface Job {
  name: string;
  weight?: number;
  key?: string;
  fail?: boolean;
}

/** A coalescer whose groups are recorded and finish when the test says so. */
function recordingCoalescer(options: { concurrency?: number; maxWeight?: number; gatherMs?: number } = {}) {
  const groups: string[][] = [];
  const finish: (() => void)[] = [];
  const coalescer = new Coalescer<Job, string>(
    async (jobs) => {
      groups.push(jobs.map((j) => j.name));
      await new Promise<void>((resolve) => finish.push(resolve));
      if (jobs.some((j) => j.name === 'breaks the group')) throw new Error('group failed');
      return jobs.map((j): JobOutcome<string> => (j.fail ? { ok: false, error: new Error(`${j.name} refused`) } : { ok: true, value: `${j.name} done` }));
    },
    {
      concurrency: options.concurrency ?? 1,
      maxWeight: options.maxWeight ?? 10,
      weight: (j) => j.weight ?? 1,
      exclusiveKey: (j) => j.key ?? null,
      gatherMs: options.gatherMs ?? 0,
    },
  );
  /** Lets the oldest running group finish, then lets the coalescer start the next. */
  const finishOne = async () => {
    await expect.poll(() => finish.length).toBeGreaterThan(0);
    finish.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { coalescer, groups, finishOne };
}

describe('Coalescer', () => {
  it('runs jobs submitted together as one group, and those that come meanwhile as the next', async () => {
    const { coalescer, groups, finishOne } = recordingCoalescer();
    const first = [coalescer.submit({ name: 'a' }), coalescer.submit({ name: 'b' })];
    await expect.poll(() => groups.length).toBe(1);
    const later = [coalescer.submit({ name: 'c' }), coalescer.submit({ name: 'd' })];
    await finishOne();
    expect(await Promise.all(first)).toEqual(['a done', 'b done']);
    await finishOne();
    expect(await Promise.all(later)).toEqual(['c done', 'd done']);
    expect(groups).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('lets a job that finds it idle wait gatherMs for company, when told to gather', async () => {
    const { coalescer, groups, finishOne } = recordingCoalescer({ gatherMs: 200 });
    const first = coalescer.submit({ name: 'a' });
    // Past the turn in which a coalescer that does not gather starts its group.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = coalescer.submit({ name: 'b' });
    expect(groups).toEqual([]);
    await expect.poll(() => groups).toEqual([['a', 'b']]);
    await finishOne();
    expect(await Promise.all([first, second])).toEqual(['a done', 'b done']);
  });

  it('keeps a group within the weight limit, and lets a heavier job go alone', async () => {
    const { coalescer, groups, finishOne } = recordingCoalescer({ maxWeight: 10 });
    const all = [
      coalescer.submit({ name: 'six', weight: 6 }),
      coalescer.submit({ name: 'five', weight: 5 }),
      coalescer.submit({ name: 'four', weight: 4 }),
      coalescer.submit({ name: 'huge', weight: 50 }),
    ];
    for (let n = 0; n < 3; n++) await finishOne();
    await Promise.all(all);
    expect(groups).toEqual([['six', 'four'], ['five'], ['huge']]);
  });

  it('never puts two jobs with the same key in one group', async () => {
    const { coalescer, groups, finishOne } = recordingCoalescer();
    const all = [coalescer.submit({ name: 'k1', key: 'k' }), coalescer.submit({ name: 'k2', key: 'k' }), coalescer.submit({ name: 'free' })];
    await finishOne();
    await finishOne();
    await Promise.all(all);
    expect(groups).toEqual([['k1', 'free'], ['k2']]);
  });

  it('runs at most `concurrency` groups at once', async () => {
    const { coalescer, groups, finishOne } = recordingCoalescer({ concurrency: 2, maxWeight: 1 });
    const all = ['a', 'b', 'c'].map((name) => coalescer.submit({ name }));
    await expect.poll(() => groups.length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(groups).toHaveLength(2);
    await finishOne();
    await expect.poll(() => groups.length).toBe(3);
    await finishOne();
    await finishOne();
    expect(await Promise.all(all)).toEqual(['a done', 'b done', 'c done']);
  });

  it('rejects only the job refused on its own, and every job of a group that failed as a whole', async () => {
    const { coalescer, finishOne } = recordingCoalescer();
    const mixed = Promise.allSettled([coalescer.submit({ name: 'fine' }), coalescer.submit({ name: 'bad', fail: true })]);
    await finishOne();
    const [fine, bad] = await mixed;
    expect(fine).toEqual({ status: 'fulfilled', value: 'fine done' });
    expect(String((bad as PromiseRejectedResult).reason)).toMatch('bad refused');

    const broken = Promise.allSettled([coalescer.submit({ name: 'breaks the group' }), coalescer.submit({ name: 'innocent' })]);
    await finishOne();
    expect((await broken).map((r) => (r.status === 'rejected' ? String(r.reason) : r.value))).toEqual(['Error: group failed', 'Error: group failed']);
    const after = coalescer.submit({ name: 'after' });
    await finishOne();
    await expect(after).resolves.toBe('after done');
  });
});
