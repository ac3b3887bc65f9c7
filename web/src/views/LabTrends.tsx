import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import { gql } from '../api.ts';
import { formatDate, formatDateTime, formatNumber, wallClockSeconds } from '../format.ts';

interface Point { time: string; value: number | null; unit: string | null; originalValue: number | null; originalUnit: string | null; referenceLow: number | null; referenceHigh: number | null; referenceText: string | null; flag: string | null; abnormal: boolean; status: string }
interface Trend { code: string; name: string | null; unit: string | null; points: Point[] }
interface KeyLab { code: string; name: string | null; unit: string | null; trend: Trend }

const QUERY = `query ($id: ID!, $units: [LabUnit!]) { patient(id: $id) { caseSummary(labUnits: $units) { keyLabs { code name unit trend { code name unit points { time value unit originalValue originalUnit referenceLow referenceHigh referenceText flag abnormal status } } } } } }`;

/** Units IDR converts between for an analyte (UCUM, and the molar mass where substance meets mass), by LOINC code. */
const UNIT_CHOICES: Record<string, string[]> = {};
for (const [codes, units] of [
  [['59260-0', '718-7', '20509-6', '30313-1'], ['mmol/L', 'g/dL', 'g/L']],
  [['14682-9', '2160-0', '38483-4'], ['umol/L', 'mg/dL']],
  [['15074-8', '2345-7', '2339-0', '14749-6'], ['mmol/L', 'mg/dL']],
  [['17861-6', '2000-8'], ['mmol/L', 'mg/dL']],
  [['14631-6', '1975-2'], ['umol/L', 'mg/dL']],
  [['14647-2', '2093-3'], ['mmol/L', 'mg/dL']],
] as const) for (const c of codes) UNIT_CHOICES[c] = [...units];

/** One analyte over time, with its reference range shaded (uPlot on a canvas), plus the same values as a table. */
function TrendChart({ trend }: { trend: Trend }) {
  const holder = useRef<HTMLDivElement>(null);
  const points = [...trend.points].filter((p) => p.value !== null).sort((a, b) => a.time.localeCompare(b.time));
  const withRange = [...points].reverse().find((p) => p.referenceLow !== null || p.referenceHigh !== null);
  const low = withRange?.referenceLow ?? null;
  const high = withRange?.referenceHigh ?? null;
  const key = JSON.stringify(points.map((p) => [p.time, p.value]));

  useEffect(() => {
    const el = holder.current;
    if (!el || !points.length) return;
    const xs = points.map((p) => wallClockSeconds(p.time));
    const ys = points.map((p) => p.value);
    const abnormal = points.map((p) => (p.abnormal ? p.value : null));
    const values = [...ys, low, high].filter((v): v is number => v !== null);
    const pad = (Math.max(...values) - Math.min(...values)) * 0.1 || 1;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height: 240,
      // The wall clock of the hospital's zone, drawn as UTC: the axis shows the times as IDR gave them.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { y: { range: [Math.min(...values) - pad, Math.max(...values) + pad] } },
      // Dates as YYYY-MM-DD of the hospital's wall clock (the x values are that clock, counted as UTC).
      axes: [{ stroke: '#1f2933', grid: { stroke: '#e4e7eb' }, values: (_u, splits) => splits.map((x) => new Date(x * 1000).toISOString().slice(0, 10)), space: 90 }, { stroke: '#1f2933', grid: { stroke: '#e4e7eb' }, label: trend.unit ?? '' }],
      series: [
        {},
        { label: trend.name ?? trend.code, stroke: '#1d5fa7', width: 2, points: { show: true, size: 6, fill: '#1d5fa7' } },
        { label: 'abnormal', stroke: '#b3261e', paths: () => null, points: { show: true, size: 9, fill: '#b3261e', stroke: '#b3261e' } },
      ],
      hooks: {
        drawClear: [
          (u) => {
            if (low === null && high === null) return;
            const ctx = u.ctx;
            const top = u.valToPos(high ?? (u.scales.y?.max as number), 'y', true);
            const bottom = u.valToPos(low ?? (u.scales.y?.min as number), 'y', true);
            ctx.save();
            ctx.fillStyle = 'rgba(46, 125, 50, 0.14)';
            ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
            ctx.restore();
          },
        ],
      },
    };
    const plot = new uPlot(opts, [xs, ys, abnormal], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height: 240 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
    // The chart is rebuilt when its values, unit or range change.
  }, [key, trend.unit, low, high]);

  const name = trend.name ?? trend.code;
  const rangeText = low !== null || high !== null ? `${low !== null ? formatNumber(low) : ''}–${high !== null ? formatNumber(high) : ''} ${trend.unit ?? ''}`.trim() : withRange?.referenceText ?? '';
  const latest = points[points.length - 1];
  return (
    <figure className="trend" data-code={trend.code} aria-labelledby={`trend-${trend.code}`}>
      <figcaption id={`trend-${trend.code}`}>
        <strong>{name}</strong> in {trend.unit}: {points.length} results{points.length ? ` from ${formatDate(points[0]?.time)} to ${formatDate(latest?.time)}` : ''}
        {rangeText && <span data-testid="reference-range"> · reference range {rangeText}</span>}
      </figcaption>
      <div
        ref={holder}
        className="chart"
        role="img"
        aria-label={`${name} over time in ${trend.unit}; latest ${formatNumber(latest?.value)} ${trend.unit ?? ''} on ${formatDate(latest?.time)}${rangeText ? `; reference range ${rangeText} shaded` : ''}. The table below lists every value.`}
      />
      <details>
        <summary>{name}: the values as a table</summary>
        <table className="grid values" data-testid="trend-values">
          <caption className="sr-only">{name} results, oldest first</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Value ({trend.unit})</th><th scope="col">As reported</th><th scope="col">Reference</th><th scope="col">Flag</th></tr></thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.time + String(p.value)} className={p.abnormal ? 'abnormal' : undefined}>
                <td><time dateTime={p.time}>{formatDateTime(p.time)}</time></td>
                <td>{formatNumber(p.value)}</td>
                <td>{p.originalUnit && p.originalUnit !== p.unit ? `${formatNumber(p.originalValue)} ${p.originalUnit}` : ''}</td>
                <td>{p.referenceLow !== null || p.referenceHigh !== null ? `${formatNumber(p.referenceLow)}–${formatNumber(p.referenceHigh)}` : p.referenceText ?? ''}</td>
                <td>{p.flag ?? (p.abnormal ? 'abnormal' : '')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

/** The key labs over time, each in the unit chosen where IDR can convert it. */
export function LabTrends({ id }: { id: string }) {
  const [units, setUnits] = useState<Record<string, string>>({});
  const [labs, setLabs] = useState<KeyLab[]>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    setLoading(true);
    gql<{ patient: { caseSummary: { keyLabs: KeyLab[] } } }>(QUERY, { id, units: Object.entries(units).map(([code, unit]) => ({ code, unit })) })
      .then((d) => { setLabs(d.patient.caseSummary.keyLabs); setError(undefined); })
      .catch((e: unknown) => setError((e as Error).message))
      .finally(() => setLoading(false));
  }, [id, units]);

  if (error) return <p className="alert" role="alert">{error}</p>;
  if (!labs) return <p role="status">Loading lab trends…</p>;
  const shown = labs.filter((l) => l.trend.points.length);
  return (
    <section aria-labelledby="labs-title" className="labs" aria-busy={loading}>
      <h2 id="labs-title">Lab trends</h2>
      {!shown.length && <p className="muted">No lab results.</p>}
      {shown.map((l) => {
        const choices = UNIT_CHOICES[l.code];
        const current = units[l.code] ?? l.unit ?? '';
        return (
          <section key={l.code} className="lab" aria-label={l.name ?? l.code}>
            {choices && (
              <label className="unit">
                Unit for {l.name ?? l.code}{' '}
                <select value={current} onChange={(e) => setUnits((u) => ({ ...u, [l.code]: e.target.value }))}>
                  {[...new Set([current, ...choices])].map((u) => <option key={u} value={u}>{u}</option>)}
                </select>
              </label>
            )}
            <TrendChart trend={{ ...l.trend, unit: l.trend.unit ?? l.unit }} />
          </section>
        );
      })}
    </section>
  );
}
