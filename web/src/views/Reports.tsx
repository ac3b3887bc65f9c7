import { useEffect, useState } from 'react';
import { download, gql } from '../api.ts';
import { formatDate, formatDateTime, formatNumber } from '../format.ts';
import { href } from '../route.ts';

interface Coding { system?: string; code?: string; display?: string }
interface Concept { text?: string; coding?: Coding[] }
interface Observation {
  resourceType: 'Observation';
  id: string;
  code?: Concept;
  valueQuantity?: { value?: number; unit?: string; comparator?: string };
  valueString?: string;
  valueCodeableConcept?: Concept;
  interpretation?: Concept[];
  referenceRange?: { low?: { value?: number }; high?: { value?: number }; text?: string }[];
  note?: { text?: string }[];
}
interface Attachment { contentType?: string; data?: string; url?: string; title?: string }
interface Report { id: string; reference: string; status: string; kind: string; title: string | null; effective: string | null; issued: string | null; conclusion: string | null; results: Observation[]; resource: { presentedForm?: Attachment[] } }
interface Doc { id: string; reference: string; status: string; date: string | null; type: string | null; title: string | null; description: string | null; contentType: string | null; url: string | null; resource: { content?: { attachment?: Attachment }[] } }

const QUERY = `query ($id: ID!) { patient(id: $id) {
  reports(first: 100) { id reference status kind title effective issued conclusion results resource }
  documents(first: 100) { id reference status date type title description contentType url resource }
} }`;

const conceptText = (c?: Concept): string => c?.text ?? c?.coding?.find((x) => x.display)?.display ?? c?.coding?.[0]?.code ?? '';

function valueText(o: Observation): string {
  if (o.valueQuantity) return `${o.valueQuantity.comparator ?? ''}${formatNumber(o.valueQuantity.value)} ${o.valueQuantity.unit ?? ''}`.trim();
  return o.valueString ?? conceptText(o.valueCodeableConcept);
}

/** Text of an attachment held inline (plain text only; other kinds are offered as a download). */
function inlineText(a?: Attachment): string | undefined {
  if (!a?.data || !(a.contentType ?? 'text/plain').startsWith('text/')) return undefined;
  const bytes = Uint8Array.from(atob(a.data), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

function Original({ url, name }: { url: string | null | undefined; name: string }) {
  const [error, setError] = useState<string>();
  if (!url) return null;
  const same = new URL(url, location.href).origin === location.origin;
  return (
    <p>
      {same ? (
        <button type="button" onClick={() => download(url, name).catch((e: unknown) => setError((e as Error).message))}>Download the original</button>
      ) : (
        <a href={url} target="_blank" rel="noopener noreferrer">Open the original<span className="sr-only"> (new tab)</span></a>
      )}
      {error && <span className="alert" role="alert"> {error}</span>}
    </p>
  );
}

function ReportView({ r }: { r: Report }) {
  const text = r.resource.presentedForm?.map(inlineText).filter(Boolean).join('\n\n');
  const original = r.resource.presentedForm?.find((a) => a.url)?.url;
  return (
    <article className="reader" aria-labelledby="reader-title" data-reference={r.reference}>
      <h3 id="reader-title">{r.title ?? 'Report'}</h3>
      <p className="muted">{r.kind} · {r.status}{r.effective ? <> · taken <time dateTime={r.effective}>{formatDateTime(r.effective)}</time></> : null}{r.issued ? <> · issued <time dateTime={r.issued}>{formatDateTime(r.issued)}</time></> : null}</p>
      {r.conclusion && <section aria-label="Conclusion"><h4>Conclusion</h4><p className="prose">{r.conclusion}</p></section>}
      {r.results.length > 0 && (
        <section aria-label="Results">
          <h4>Results</h4>
          <table className="grid">
            <thead><tr><th scope="col">Test</th><th scope="col">Result</th><th scope="col">Reference</th><th scope="col">Flag</th></tr></thead>
            <tbody>
              {r.results.map((o) => (
                <tr key={o.id}>
                  <th scope="row">{conceptText(o.code)}</th>
                  <td>{valueText(o)}{o.note?.length ? <span className="muted"> {o.note.map((n) => n.text).join(' ')}</span> : null}</td>
                  <td>{o.referenceRange?.[0] ? o.referenceRange[0].text ?? `${formatNumber(o.referenceRange[0].low?.value)}–${formatNumber(o.referenceRange[0].high?.value)}` : ''}</td>
                  <td>{o.interpretation?.map(conceptText).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {text && <section aria-label="Report text"><h4>Text</h4><pre className="prose">{text}</pre></section>}
      <Original url={original} name={`report-${r.id}`} />
    </article>
  );
}

function DocumentView({ d }: { d: Doc }) {
  const attachment = d.resource.content?.[0]?.attachment;
  const text = inlineText(attachment);
  return (
    <article className="reader" aria-labelledby="reader-title" data-reference={d.reference}>
      <h3 id="reader-title">{d.title ?? d.type ?? 'Letter'}</h3>
      <p className="muted">{d.type}{d.date ? <> · <time dateTime={d.date}>{formatDateTime(d.date)}</time></> : null} · {d.status}</p>
      {d.description && <p>{d.description}</p>}
      {text ? <pre className="prose">{text}</pre> : <p className="muted">{d.contentType ? `A ${d.contentType} document: download the original to read it.` : 'No text.'}</p>}
      <Original url={d.url} name={attachment?.title ?? `document-${d.id}${d.contentType === 'application/pdf' ? '.pdf' : ''}`} />
    </article>
  );
}

/** The patient's reports and letters, and the one chosen, to read. */
export function Reports({ id, read }: { id: string; read?: string | undefined }) {
  const [data, setData] = useState<{ reports: Report[]; documents: Doc[] }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    gql<{ patient: { reports: Report[]; documents: Doc[] } }>(QUERY, { id }).then((d) => setData(d.patient)).catch((e: unknown) => setError((e as Error).message));
  }, [id]);
  if (error) return <p className="alert" role="alert">{error}</p>;
  if (!data) return <p role="status">Loading reports and letters…</p>;
  const report = data.reports.find((r) => r.reference === read);
  const doc = data.documents.find((d) => d.reference === read);
  const link = (reference: string) => href({ view: 'patient', id, tab: 'reports', read: reference });
  return (
    <section aria-labelledby="reports-title" className="reports">
      <h2 id="reports-title">Reports and letters</h2>
      <div className="split">
        <nav aria-label="Reports and letters">
          <h3>Reports</h3>
          <ul className="plain pick">
            {data.reports.map((r) => (
              <li key={r.id}><a href={link(r.reference)} aria-current={r.reference === read ? 'true' : undefined}>{r.title ?? 'Report'} <span className="muted">{r.kind} · {formatDate(r.effective ?? r.issued)}</span></a></li>
            ))}
          </ul>
          <h3>Letters and documents</h3>
          <ul className="plain pick">
            {data.documents.map((d) => (
              <li key={d.id}><a href={link(d.reference)} aria-current={d.reference === read ? 'true' : undefined}>{d.title ?? d.type ?? 'Document'} <span className="muted">{formatDate(d.date)}</span></a></li>
            ))}
          </ul>
        </nav>
        <div>
          {report ? <ReportView r={report} /> : doc ? <DocumentView d={doc} /> : <p className="muted">{read ? `${read} is not among this patient's reports and letters.` : 'Choose a report or letter to read it.'}</p>}
        </div>
      </div>
    </section>
  );
}
