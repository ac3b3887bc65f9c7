import { useEffect, useState } from 'react';
import { gql } from '../api.ts';
import { formatDate, formatDateTime, formatNumber } from '../format.ts';
import { href } from '../route.ts';

interface ReportRef { id: string; reference: string; title: string | null }
interface ReportedValue { value: string; interpretation: string | null; date: string | null; source: string; report: ReportRef | null }
interface ReportedItem { item: string; conflicting: boolean; latest: ReportedValue; values: ReportedValue[] }
interface Tnm { prefix: string; t: string | null; n: string | null; m: string | null; stageGroup: string | null; stageGroupBasis: string; stageGroupNote: string | null; edition: string | null; date: string | null; source: string; current: boolean }
interface Summary {
  primaryDiagnosis: { display: string; code: string | null; date: string | null } | null;
  biomarkers: ReportedItem[];
  histology: ReportedItem | null;
  topography: ReportedItem | null;
  tumourSize: ReportedItem | null;
  tnm: Tnm[];
  latestImaging: { modality: string; date: string | null; conclusion: string | null; study: { id: string; description: string | null; viewerUrl: string | null } }[];
  keyLabs: { code: string; name: string | null; unit: string | null; latest: { time: string; value: number | null; unit: string | null; flag: string | null; abnormal: boolean; referenceLow: number | null; referenceHigh: number | null } | null }[];
  procedures: { display: string; date: string | null; status: string }[];
  recentLetters: { id: string; title: string | null; type: string | null; date: string | null }[];
}

const VALUE = 'value interpretation date source report { id reference title }';
const QUERY = `query ($id: ID!) { patient(id: $id) { caseSummary {
  primaryDiagnosis { display code date }
  biomarkers { item conflicting latest { ${VALUE} } values { ${VALUE} } }
  histology { item conflicting latest { ${VALUE} } values { ${VALUE} } }
  topography { item conflicting latest { ${VALUE} } values { ${VALUE} } }
  tumourSize { item conflicting latest { ${VALUE} } values { ${VALUE} } }
  tnm { prefix t n m stageGroup stageGroupBasis stageGroupNote edition date source current }
  latestImaging { modality date conclusion study { id description viewerUrl } }
  keyLabs { code name unit latest { time value unit flag abnormal referenceLow referenceHigh } }
  procedures { display date status }
  recentLetters { id title type date }
} } }`;

/** A link to the report in the reader. */
function SourceLink({ patient, value }: { patient: string; value: ReportedValue }) {
  const [type, rid] = value.source.split('/');
  if (type !== 'DiagnosticReport' || !rid) return <span>{value.source}</span>;
  return <a href={href({ view: 'patient', id: patient, tab: 'reports', read: `DiagnosticReport/${rid}` })}>{value.report?.title ?? 'report'} {formatDate(value.date)}</a>;
}

function ItemRow({ patient, item }: { patient: string; item: ReportedItem }) {
  const others = item.values.filter((v) => v.source !== item.latest.source || v.value !== item.latest.value);
  return (
    <tr data-item={item.item} className={item.conflicting ? 'conflict' : undefined}>
      <th scope="row">{item.item}</th>
      <td data-testid={`value-${item.item}`}>
        {item.latest.value}
        {item.conflicting && others.length > 0 && (
          <ul className="disagree" aria-label={`Other reports on ${item.item}`}>
            {others.map((v) => <li key={v.source + v.value}>{v.value} <span className="muted">({formatDate(v.date)})</span></li>)}
          </ul>
        )}
      </td>
      <td>{item.latest.interpretation}{item.conflicting && <strong className="badge warn"> reports disagree</strong>}</td>
      <td><time dateTime={item.latest.date ?? undefined}>{formatDateTime(item.latest.date)}</time></td>
      <td><SourceLink patient={patient} value={item.latest} /></td>
    </tr>
  );
}

/** What a tumour board reads on one screen (GraphQL caseSummary). */
export function CaseSummary({ id }: { id: string }) {
  const [s, setS] = useState<Summary>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    gql<{ patient: { caseSummary: Summary } }>(QUERY, { id }).then((d) => setS(d.patient.caseSummary)).catch((e: unknown) => setError((e as Error).message));
  }, [id]);
  if (error) return <p className="alert" role="alert">{error}</p>;
  if (!s) return <p role="status">Loading the case summary…</p>;
  const items = [...s.biomarkers, ...[s.histology, s.topography, s.tumourSize].filter((x): x is ReportedItem => !!x)];
  return (
    <section aria-labelledby="summary-title" className="summary">
      <h2 id="summary-title">Case summary</h2>
      <div className="cards">
        <section aria-labelledby="dx-title" className="card">
          <h3 id="dx-title">Diagnosis</h3>
          {s.primaryDiagnosis ? <p data-testid="diagnosis">{s.primaryDiagnosis.display}{s.primaryDiagnosis.code ? ` (${s.primaryDiagnosis.code})` : ''} <span className="muted">{formatDate(s.primaryDiagnosis.date)}</span></p> : <p className="muted">No diagnosis recorded.</p>}
        </section>
        <section aria-labelledby="tnm-title" className="card">
          <h3 id="tnm-title">TNM and stage</h3>
          {s.tnm.length ? (
            <table className="grid" data-testid="tnm">
              <thead><tr><th scope="col">TNM</th><th scope="col">Stage group</th><th scope="col">Edition</th><th scope="col">Date</th></tr></thead>
              <tbody>
                {s.tnm.map((t) => (
                  <tr key={t.source + t.prefix} className={t.current ? undefined : 'earlier'} data-current={t.current}>
                    <td data-testid="tnm-value">{[t.t, t.n, t.m].filter(Boolean).join(' ')}{t.current ? '' : ' (earlier report)'}</td>
                    <td data-testid="stage-group">{t.stageGroup ?? '—'} <span className="muted">{t.stageGroupBasis}{t.stageGroupNote ? `: ${t.stageGroupNote}` : ''}</span></td>
                    <td>{t.edition ?? ''}</td>
                    <td><time dateTime={t.date ?? undefined}>{formatDate(t.date)}</time></td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p className="muted">No TNM reported.</p>}
        </section>
      </div>
      <section aria-labelledby="bio-title">
        <h3 id="bio-title">Pathology: biomarkers, grade, histology</h3>
        {items.length ? (
          <table className="grid" data-testid="biomarkers">
            <thead><tr><th scope="col">Item</th><th scope="col">Value</th><th scope="col">Reading</th><th scope="col">Date</th><th scope="col">Report</th></tr></thead>
            <tbody>{items.map((i) => <ItemRow key={i.item} patient={id} item={i} />)}</tbody>
          </table>
        ) : <p className="muted">No pathology findings.</p>}
      </section>
      <div className="cards">
        <section aria-labelledby="img-title" className="card">
          <h3 id="img-title">Latest imaging</h3>
          {s.latestImaging.length ? (
            <ul className="plain">
              {s.latestImaging.map((im) => (
                <li key={im.study.id}>
                  <strong>{im.modality}</strong> <time dateTime={im.date ?? undefined}>{formatDate(im.date)}</time> {im.study.description}
                  {im.conclusion && <p>{im.conclusion}</p>}
                  {im.study.viewerUrl
                    ? <a href={im.study.viewerUrl} target="_blank" rel="noopener noreferrer">Open in the image viewer<span className="sr-only"> ({im.modality}, opens a new tab)</span></a>
                    : <p className="muted" data-testid="no-viewer">No image viewer is configured (IDR_VIEWER_URL_TEMPLATE), so the images cannot be opened from here.</p>}
                </li>
              ))}
            </ul>
          ) : <p className="muted">No imaging.</p>}
        </section>
        <section aria-labelledby="labs-title" className="card">
          <h3 id="labs-title">Key labs</h3>
          {s.keyLabs.some((k) => k.latest) ? (
            <table className="grid" data-testid="key-labs">
              <thead><tr><th scope="col">Test</th><th scope="col">Latest</th><th scope="col">Reference</th><th scope="col">Date</th></tr></thead>
              <tbody>
                {s.keyLabs.filter((k) => k.latest).map((k) => (
                  <tr key={k.code} className={k.latest?.abnormal ? 'abnormal' : undefined}>
                    <th scope="row">{k.name ?? k.code}</th>
                    <td>{formatNumber(k.latest?.value)} {k.latest?.unit}{k.latest?.flag ? ` (${k.latest.flag})` : ''}</td>
                    <td>{k.latest?.referenceLow != null || k.latest?.referenceHigh != null ? `${formatNumber(k.latest?.referenceLow)}–${formatNumber(k.latest?.referenceHigh)}` : ''}</td>
                    <td><time dateTime={k.latest?.time}>{formatDate(k.latest?.time)}</time></td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p className="muted">No key lab results.</p>}
          <p><a href={href({ view: 'patient', id, tab: 'labs' })}>Lab trends</a></p>
        </section>
      </div>
      <div className="cards">
        <section aria-labelledby="proc-title" className="card">
          <h3 id="proc-title">Procedures</h3>
          {s.procedures.length ? <ul className="plain">{s.procedures.map((p, i) => <li key={i}>{p.display} <span className="muted">{formatDate(p.date)} · {p.status}</span></li>)}</ul> : <p className="muted">No procedures recorded.</p>}
        </section>
        <section aria-labelledby="letters-title" className="card">
          <h3 id="letters-title">Letters</h3>
          {s.recentLetters.length ? (
            <ul className="plain">
              {s.recentLetters.map((l) => <li key={l.id}><a href={href({ view: 'patient', id, tab: 'reports', read: `DocumentReference/${l.id}` })}>{l.title ?? l.type ?? 'Letter'}</a> <span className="muted">{formatDate(l.date)}</span></li>)}
            </ul>
          ) : <p className="muted">No letters.</p>}
        </section>
      </div>
    </section>
  );
}
