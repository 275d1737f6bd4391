/**
 * Acks and refusals per minute as stacked SVG bars: acks (OK) at the bottom,
 * refusals (KO) on top, one bar per minute, oldest on the left.
 */
import type { MinuteCount } from '../_connection/rows.ts';

// Drawn in these units and scaled to the card's width (about 1:1 on a laptop screen).
const WIDTH = 1000;
const HEIGHT = 190;
const MARGIN = { top: 12, right: 24, bottom: 30, left: 40 };

/** The smallest 1, 2, 4, 6, 8 or 10 × 10^k at or above `n` (at least 1): its half is a whole number too. */
function niceCeiling(n: number): number {
  if (n <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 8, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const minuteLabel = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

export function AckChart({ perMinute }: { perMinute: MinuteCount[] }) {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const top = niceCeiling(Math.max(0, ...perMinute.map((m) => m.ok + m.ko)));
  const ticks = top >= 2 ? [0, top / 2, top] : [0, top];
  const slot = plotWidth / Math.max(1, perMinute.length);
  const barWidth = Math.max(2, slot * 0.7);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const totalOk = perMinute.reduce((sum, m) => sum + m.ok, 0);
  const totalKo = perMinute.reduce((sum, m) => sum + m.ko, 0);

  return (
    <figure className="ack-chart" data-testid="ack-chart">
      <div className="chart-legend" aria-hidden="true">
        <span>
          <span className="swatch swatch-ok" /> Acks (OK)
        </span>
        <span>
          <span className="swatch swatch-ko" /> Refusals (KO)
        </span>
      </div>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="ack-chart-title ack-chart-desc" preserveAspectRatio="xMidYMid meet">
        <title id="ack-chart-title">Acks and refusals per minute, last {perMinute.length} minutes</title>
        <desc id="ack-chart-desc">{`${plural(totalOk, 'ack', 'acks')} and ${plural(totalKo, 'refusal', 'refusals')} in total.`}</desc>
        {ticks.map((tick) => (
          <g key={tick} className="chart-grid">
            <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(tick)} y2={y(tick)} />
            <text x={MARGIN.left - 6} y={y(tick)} textAnchor="end" dominantBaseline="middle">
              {tick}
            </text>
          </g>
        ))}
        {perMinute.map((m, i) => {
          const x = MARGIN.left + i * slot + (slot - barWidth) / 2;
          const label = minuteLabel.format(new Date(m.minute));
          const last = perMinute.length - 1;
          const showLabel = i === last || (i % 5 === 0 && last - i >= 3);
          return (
            <g key={m.minute}>
              <title>{`${label}: ${plural(m.ok, 'ack', 'acks')}, ${plural(m.ko, 'refusal', 'refusals')}`}</title>
              {m.ok > 0 ? <rect className="bar-ok" x={x} width={barWidth} y={y(m.ok)} height={y(0) - y(m.ok)} rx={1.5} /> : null}
              {m.ko > 0 ? <rect className="bar-ko" x={x} width={barWidth} y={y(m.ok + m.ko)} height={y(m.ok) - y(m.ok + m.ko)} rx={1.5} /> : null}
              {showLabel ? (
                <text className="chart-axis-label" x={x + barWidth / 2} y={HEIGHT - MARGIN.bottom + 18} textAnchor={i === last ? 'end' : 'middle'}>
                  {label}
                </text>
              ) : null}
            </g>
          );
        })}
        <line className="chart-axis" x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(0)} y2={y(0)} />
      </svg>
      <figcaption className="muted">
        {`Per minute, last ${perMinute.length} minutes: ${plural(totalOk, 'ack', 'acks')}, ${plural(totalKo, 'refusal', 'refusals')}.`}
      </figcaption>
    </figure>
  );
}
