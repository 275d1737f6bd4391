/** Percentiles and number formatting for the report. */

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function sortNumbers(values: Iterable<number>): Float64Array {
  // A typed array sorts numerically (an Array would sort as strings).
  return Float64Array.from(values).sort();
}

/** 1234.5 → "1,235"; small numbers keep a decimal or two. */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return '–';
  const d = digits ?? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2);
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmtMs(ms: number): string {
  return Number.isFinite(ms) ? `${fmt(ms)} ms` : '–';
}

export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024 * 1024) return `${fmt(bytes / 1024 ** 3)} GiB`;
  if (abs >= 1024 * 1024) return `${fmt(bytes / 1024 ** 2)} MiB`;
  if (abs >= 1024) return `${fmt(bytes / 1024)} KiB`;
  return `${fmt(bytes, 0)} B`;
}
