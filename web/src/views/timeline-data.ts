import { useCallback, useEffect, useRef, useState } from 'react';
import { gql } from '../api.ts';

/** The timeline's lanes as GraphQL names them, in the order the page shows them. */
export const LANES = ['lab', 'pathology', 'imaging', 'document', 'treatment', 'decision', 'diagnosis', 'encounter', 'model', 'other'] as const;
export type Lane = (typeof LANES)[number];
export const LANE_NAMES: Record<Lane, string> = { lab: 'Lab', pathology: 'Pathology', imaging: 'Imaging', document: 'Letters', treatment: 'Treatment', decision: 'Decisions', diagnosis: 'Diagnoses', encounter: 'Encounters', model: 'Models', other: 'Other' };

export interface TimelineEvent {
  id: string;
  time: string;
  lane: Lane;
  title: string;
  summary: string;
  abnormal: boolean;
  status: string;
  reference: string;
}

export interface TimelineFilter {
  lanes: Lane[];
  /** `YYYY-MM-DD` or '' */
  from: string;
  to: string;
  text: string;
}

/** Events per request: a small first page to show something at once, then the API's largest page. */
export const FIRST_PAGE = 50;
export const PAGE = 200;

const QUERY = `query ($id: ID!, $lanes: [Lane!], $from: DateTime, $to: DateTime, $text: String, $after: String, $first: Int!) {
  patient(id: $id) { timeline(lanes: $lanes, from: $from, to: $to, text: $text, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id time lane title summary abnormal status reference } }
  } } }`;

/** The count, asked for apart and after the first page, so the first rows do not wait for it. */
const COUNT = `query ($id: ID!, $lanes: [Lane!], $from: DateTime, $to: DateTime, $text: String) {
  patient(id: $id) { timeline(lanes: $lanes, from: $from, to: $to, text: $text, first: 0) { totalCount } } }`;

interface Page { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: TimelineEvent }[] }

export interface TimelineState {
  events: TimelineEvent[];
  total: number | undefined;
  hasNext: boolean;
  loading: boolean;
  error: string | undefined;
  /** The hospital's offset as the API writes it (`+01:00`), from the events seen. */
  offset: string;
}

/**
 * The patient's timeline, 50 events first, then 200 at a time through the API's keyset cursor: the first page
 * when the filter changes, the next ones when `loadMore` is called (the list asks as it scrolls).
 */
export function useTimeline(patient: string, filter: TimelineFilter): TimelineState & { loadMore: () => void } {
  const [state, setState] = useState<TimelineState>({ events: [], total: undefined, hasNext: false, loading: true, error: undefined, offset: 'Z' });
  const cursor = useRef<string | null>(null);
  const generation = useRef(0);
  const inFlight = useRef(false);

  const fetchPage = useCallback(async (first: boolean) => {
    if (inFlight.current && !first) return;
    const gen = first ? ++generation.current : generation.current;
    inFlight.current = true;
    setState((s) => ({ ...s, loading: true, error: undefined, ...(first ? { events: [], total: undefined, hasNext: false } : {}) }));
    if (first) cursor.current = null;
    const offset = state.offset;
    try {
      const vars: Record<string, unknown> = {
        id: patient,
        ...(filter.lanes.length < LANES.length ? { lanes: filter.lanes } : {}),
        ...(filter.from ? { from: `${filter.from}T00:00:00${offset === 'Z' ? 'Z' : offset}` } : {}),
        ...(filter.to ? { to: `${filter.to}T23:59:59.999${offset === 'Z' ? 'Z' : offset}` } : {}),
        ...(filter.text.trim() ? { text: filter.text.trim() } : {}),
        ...(cursor.current ? { after: cursor.current } : {}),
      };
      const data = await gql<{ patient: { timeline: Page } | null }>(QUERY, { ...vars, first: first ? FIRST_PAGE : PAGE });
      if (gen !== generation.current) return;
      const page = data.patient?.timeline;
      if (!page) throw new Error('No such patient');
      // The count only after the first page: counting reads every event, and the rows come first.
      if (first) {
        const { after: _after, ...countVars } = vars;
        gql<{ patient: { timeline: { totalCount: number } } | null }>(COUNT, countVars)
          .then((d) => { if (gen === generation.current && d.patient) setState((s) => ({ ...s, total: d.patient?.timeline.totalCount })); })
          .catch(() => undefined);
      }
      cursor.current = page.pageInfo.endCursor;
      const nodes = page.edges.map((e) => e.node);
      const seenOffset = /([+-]\d{2}:\d{2})$/.exec(nodes[0]?.time ?? '')?.[1];
      setState((s) => ({
        events: first ? nodes : [...s.events, ...nodes],
        total: s.total,
        hasNext: page.pageInfo.hasNextPage,
        loading: false,
        error: undefined,
        offset: seenOffset ?? s.offset,
      }));
    } catch (e) {
      if (gen === generation.current) setState((s) => ({ ...s, loading: false, error: (e as Error).message }));
    } finally {
      if (gen === generation.current) inFlight.current = false;
    }
  }, [patient, filter.lanes.join(','), filter.from, filter.to, filter.text]);

  useEffect(() => {
    void fetchPage(true);
  }, [fetchPage]);

  const loadMore = useCallback(() => {
    if (state.hasNext && !inFlight.current) void fetchPage(false);
  }, [state.hasNext, fetchPage]);

  return { ...state, loadMore };
}
