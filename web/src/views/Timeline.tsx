import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { formatDate, formatDateTime, wallClockSeconds } from '../format.ts';
import { href } from '../route.ts';
import { LANE_NAMES, LANES, useTimeline, type Lane, type TimelineEvent, type TimelineFilter } from './timeline-data.ts';

/** Lanes with a column of their own; the rest share "Other". */
const COLUMNS = ['lab', 'pathology', 'imaging', 'document', 'treatment', 'decision'] as const;
type Column = (typeof COLUMNS)[number] | 'rest';
const columnOf = (lane: Lane): Column => ((COLUMNS as readonly string[]).includes(lane) ? (lane as Column) : 'rest');
const ROWS: Column[] = [...COLUMNS, 'rest'];
const COLUMN_NAMES: Record<Column, string> = { lab: 'Lab', pathology: 'Pathology', imaging: 'Imaging', document: 'Letters', treatment: 'Treatment', decision: 'Decisions', rest: 'Other' };

/** Row height of the virtual list, px (CSS .event has the same). */
const ROW = 56;
/** Rows drawn beyond the visible ones. */
const OVERSCAN = 8;

/** A reader link for events that are a report or a letter. */
function readerTarget(e: TimelineEvent): string | undefined {
  const [type, id] = e.reference.split('/');
  return (type === 'DiagnosticReport' || type === 'DocumentReference') && id ? `${type}/${id}` : undefined;
}

/** Adds days to `YYYY-MM-DD`. */
function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
const daysBetween = (a: string, b: string): number => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);

/** The lanes drawn as rows on a canvas, one tick per loaded event: an overview of thousands of events in one element. */
function Overview({ events, onPick }: { events: TimelineEvent[]; onPick: (index: number) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(800);
  const rows = ROWS;
  const laneH = 16;
  const height = rows.length * laneH + 22;
  const range = useMemo(() => {
    if (!events.length) return undefined;
    const times = events.map((e) => wallClockSeconds(e.time));
    return { min: Math.min(...times), max: Math.max(...times), times };
  }, [events]);

  useEffect(() => {
    const el = canvas.current?.parentElement;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(300, el.clientWidth)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    const ctx = c?.getContext('2d');
    if (!c || !ctx) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = width * dpr;
    c.height = height * dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const left = 84;
    ctx.font = '12px system-ui, sans-serif';
    rows.forEach((r, i) => {
      ctx.fillStyle = i % 2 ? '#ffffff' : '#f2f4f7';
      ctx.fillRect(left, i * laneH, width - left, laneH);
      ctx.fillStyle = '#1f2933';
      ctx.fillText(COLUMN_NAMES[r], 4, i * laneH + 12);
    });
    if (!range) return;
    const span = Math.max(1, range.max - range.min);
    const x = (t: number): number => left + 4 + ((t - range.min) / span) * (width - left - 8);
    events.forEach((e, i) => {
      const row = rows.indexOf(columnOf(e.lane));
      ctx.fillStyle = e.abnormal ? '#b3261e' : '#1d5fa7';
      ctx.fillRect(Math.round(x(range.times[i] as number)), row * laneH + 2, 2, laneH - 4);
    });
    ctx.fillStyle = '#1f2933';
    const first = events[events.length - 1]?.time;
    const last = events[0]?.time;
    ctx.fillText(formatDate(first), left, height - 6);
    const lastText = formatDate(last);
    ctx.fillText(lastText, width - ctx.measureText(lastText).width - 2, height - 6);
  }, [events, range, width, height, rows]);

  const counts = rows.map((r) => `${events.filter((e) => columnOf(e.lane) === r).length} ${COLUMN_NAMES[r].toLowerCase()}`).join(', ');
  const pick = (clientX: number): void => {
    const c = canvas.current;
    if (!c || !range) return;
    const left = 84;
    const rect = c.getBoundingClientRect();
    const t = range.min + ((clientX - rect.left - left - 4) / (rect.width - left - 8)) * (range.max - range.min);
    // Newest first: the first event at or before the picked time.
    const i = range.times.findIndex((x) => x <= t);
    onPick(i < 0 ? events.length - 1 : i);
  };
  return (
    <canvas
      ref={canvas}
      className="overview"
      style={{ width: `${width}px`, height: `${height}px` }}
      role="img"
      aria-label={events.length ? `Overview of the ${events.length} events shown, from ${formatDate(events[events.length - 1]?.time)} to ${formatDate(events[0]?.time)}: ${counts}. The list below has every event.` : 'No events'}
      onClick={(e) => pick(e.clientX)}
    />
  );
}

/** The patient's timeline: lanes, a zoomable time range, filters, and a virtual list of the events, newest first. */
export function Timeline({ id }: { id: string }) {
  const [filter, setFilter] = useState<TimelineFilter>({ lanes: [...LANES], from: '', to: '', text: '' });
  const [text, setText] = useState('');
  const [abnormalOnly, setAbnormalOnly] = useState(false);
  const tl = useTimeline(id, filter);
  const events = useMemo(() => (abnormalOnly ? tl.events.filter((e) => e.abnormal) : tl.events), [tl.events, abnormalOnly]);

  const list = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [focusIndex, setFocusIndex] = useState(0);
  const focusPending = useRef(false);
  /** The row that has the focus, while it is in the list. */
  const focusedRow = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const el = list.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const start = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const end = Math.min(events.length, Math.ceil((scrollTop + viewport) / ROW) + OVERSCAN);
  // Roving tab stop: the focused row, or the first one drawn when it has scrolled out of the DOM.
  const tabStop = focusIndex >= start && focusIndex < end ? focusIndex : start;

  // Near the end of what is loaded (or too few abnormal events to fill the view): the next page.
  useEffect(() => {
    if (tl.hasNext && !tl.loading && end >= events.length - OVERSCAN) tl.loadMore();
  }, [end, events.length, tl]);

  /** Scrolls the list so that row `index` is in view (no change when it is). */
  const scrollToRow = (index: number): void => {
    const el = list.current;
    if (!el) return;
    if (index * ROW < el.scrollTop) el.scrollTop = index * ROW;
    else if ((index + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (index + 1) * ROW - el.clientHeight;
    setScrollTop(el.scrollTop);
  };

  // Keep the focused row in view and focused after it is drawn. A render that does not draw it
  // (the scroll position or the view's size changed meanwhile, or a page arrived) scrolls to it
  // again, which draws it and runs this once more; nothing else would.
  useEffect(() => {
    if (!focusPending.current) return;
    const row = list.current?.querySelector<HTMLElement>(`[data-index="${focusIndex}"]`);
    if (!row) {
      if (focusIndex < events.length) scrollToRow(focusIndex);
      return;
    }
    focusPending.current = false;
    row.focus();
  }, [focusIndex, start, end, viewport, events.length]);

  // A render that no longer draws the focused row (the list scrolled, a page arrived) takes the
  // focus away with it, to the page's body, and the keys with it: it goes to that row if it is
  // drawn again, else to the list's tab stop, without scrolling. Focus a user moved elsewhere
  // stays there.
  useEffect(() => {
    const row = focusedRow.current;
    if (!row || row.isConnected || focusPending.current || document.activeElement !== document.body) return;
    focusedRow.current = null;
    list.current?.querySelector<HTMLElement>(`[data-index="${tabStop}"]`)?.focus({ preventScroll: true });
  });

  const moveTo = (i: number): void => {
    const index = Math.max(0, Math.min(events.length - 1, i));
    scrollToRow(index);
    focusPending.current = true;
    setFocusIndex(index);
  };

  const onKey = (e: KeyboardEvent<HTMLOListElement>): void => {
    const page = Math.max(1, Math.floor(viewport / ROW) - 1);
    const moves: Record<string, number> = { ArrowDown: focusIndex + 1, ArrowUp: focusIndex - 1, PageDown: focusIndex + page, PageUp: focusIndex - page, Home: 0, End: events.length - 1 };
    const to = moves[e.key];
    if (to !== undefined) {
      e.preventDefault();
      moveTo(to);
    } else if (e.key === 'Enter' || e.key === ' ') {
      const ev = events[focusIndex];
      const target = ev && readerTarget(ev);
      if (target && e.target === e.currentTarget.querySelector(`[data-index="${focusIndex}"]`)) {
        e.preventDefault();
        location.hash = href({ view: 'patient', id, tab: 'reports', read: target });
      }
    }
  };

  const range = ((): { from: string; to: string } | undefined => {
    const newest = formatDate(tl.events[0]?.time);
    const oldest = formatDate(tl.events[tl.events.length - 1]?.time);
    const from = filter.from || oldest;
    const to = filter.to || newest;
    return from && to ? { from, to } : undefined;
  })();
  const zoom = (factor: number): void => {
    if (!range) return;
    const days = Math.max(1, daysBetween(range.from, range.to));
    const mid = addDays(range.from, Math.round(days / 2));
    const half = Math.max(1, Math.round((days * factor) / 2));
    setFilter((f) => ({ ...f, from: addDays(mid, -half), to: addDays(mid, half) }));
  };
  const toggleLane = (lane: Lane, on: boolean): void => setFilter((f) => ({ ...f, lanes: LANES.filter((l) => (l === lane ? on : f.lanes.includes(l))) }));

  return (
    <section aria-labelledby="timeline-title" className="timeline">
      <h2 id="timeline-title">Timeline</h2>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); setFilter((f) => ({ ...f, text })); }}>
        <fieldset>
          <legend>Lanes</legend>
          {LANES.map((l) => (
            <label key={l} className={`check lane-${columnOf(l)}`}>
              <input type="checkbox" checked={filter.lanes.includes(l)} onChange={(e) => toggleLane(l, e.target.checked)} /> {LANE_NAMES[l]}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Time range</legend>
          <label>From <input type="date" value={filter.from} onChange={(e) => setFilter((f) => ({ ...f, from: e.target.value }))} /></label>
          <label>To <input type="date" value={filter.to} onChange={(e) => setFilter((f) => ({ ...f, to: e.target.value }))} /></label>
          <button type="button" onClick={() => zoom(0.5)} disabled={!range}>Zoom in</button>
          <button type="button" onClick={() => zoom(2)} disabled={!range}>Zoom out</button>
          <button type="button" onClick={() => setFilter((f) => ({ ...f, from: '', to: '' }))}>All time</button>
        </fieldset>
        <fieldset>
          <legend>Show</legend>
          <label className="check"><input type="checkbox" checked={abnormalOnly} onChange={(e) => setAbnormalOnly(e.target.checked)} /> Abnormal only</label>
          <label>Words <input type="search" value={text} onChange={(e) => setText(e.target.value)} /></label>
          <button type="submit">Filter</button>
        </fieldset>
      </form>
      <p role="status" aria-live="polite" className="hint" data-testid="timeline-status">
        {tl.error ? '' : `${events.length} event${events.length === 1 ? '' : 's'} shown${tl.total !== undefined ? ` of ${tl.total}` : ''}${abnormalOnly ? ' (abnormal only, of those loaded)' : ''}${tl.loading ? ', loading…' : tl.hasNext ? ', more as you scroll' : ''}`}
      </p>
      {tl.error && <p className="alert" role="alert">{tl.error}</p>}
      <div className="overview-wrap"><Overview events={events} onPick={moveTo} /></div>
      <div className="lane-head" aria-hidden="true">
        <span className="time">Time</span>
        {[...COLUMNS, 'rest' as const].map((c) => <span key={c} className={`col lane-${c}`}>{COLUMN_NAMES[c]}</span>)}
        <span className="what">Event</span>
      </div>
      <div className="events" ref={list} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        <ol
          aria-label="Events, newest first (arrow keys move, Enter opens a report or letter)"
          style={{ height: `${events.length * ROW}px` }}
          onKeyDown={onKey}
          onBlur={(e) => {
            if (e.relatedTarget && !e.currentTarget.contains(e.relatedTarget as Node)) focusedRow.current = null;
          }}
        >
          {events.slice(start, end).map((e, k) => {
            const i = start + k;
            const target = readerTarget(e);
            const column = columnOf(e.lane);
            return (
              <li
                key={e.id}
                className={`event${e.abnormal ? ' abnormal' : ''}`}
                style={{ top: `${i * ROW}px` }}
                aria-setsize={tl.hasNext ? -1 : events.length}
                aria-posinset={i + 1}
                tabIndex={i === tabStop ? 0 : -1}
                data-index={i}
                data-lane={e.lane}
                data-time={e.time}
                onFocus={(ev) => {
                  focusedRow.current = ev.currentTarget;
                  setFocusIndex(i);
                }}
              >
                <time className="time" dateTime={e.time}>{formatDateTime(e.time)}</time>
                {[...COLUMNS, 'rest' as const].map((c) => (
                  <span key={c} className={`col lane-${c}`}>{c === column && <span className="chip">{LANE_NAMES[e.lane]}</span>}</span>
                ))}
                <span className="what">
                  <span className="title">
                    {target ? <a href={href({ view: 'patient', id, tab: 'reports', read: target })} tabIndex={-1}>{e.title}</a> : e.title}
                    {e.abnormal && <strong className="badge warn">abnormal</strong>}
                    {e.status !== 'final' && <span className="badge">{e.status}</span>}
                  </span>
                  <span className="summary" title={e.summary}>{e.summary}</span>
                </span>
              </li>
            );
          })}
        </ol>
        {!tl.loading && !events.length && <p className="muted empty">No events match.</p>}
      </div>
    </section>
  );
}
