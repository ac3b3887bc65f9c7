import { useState, type FormEvent } from 'react';
import { gql } from '../api.ts';
import { href } from '../route.ts';

interface PatientRow { id: string; name: string | null; birthDate: string | null; gender: string | null; identifiers: { system: string | null; value: string | null }[] }

const QUERY = `query ($name: String, $identifier: String) { patients(name: $name, identifier: $identifier, first: 50) { totalCount edges { node { id name birthDate gender identifiers { system value } } } } }`;

/** Looks like an identifier (a BSN, an MRN, or system|value) rather than a name. */
function isIdentifier(text: string): boolean {
  return text.includes('|') || /\d{4,}/.test(text);
}

/** Patient search by name or identifier (GraphQL `patients`). */
export function PatientSearch() {
  const [text, setText] = useState('');
  const [rows, setRows] = useState<PatientRow[]>();
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const search = async (e?: FormEvent): Promise<void> => {
    e?.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const q = text.trim();
      const vars = q ? (isIdentifier(q) ? { identifier: q } : { name: q }) : {};
      const data = await gql<{ patients: { totalCount: number; edges: { node: PatientRow }[] } }>(QUERY, vars);
      setRows(data.patients.edges.map((e) => e.node));
      setTotal(data.patients.totalCount);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Find a patient</h1>
      <form className="search" role="search" onSubmit={(e) => void search(e)}>
        <label htmlFor="patient-query">Name or identifier (BSN, MRN)</label>
        <div className="row">
          <input id="patient-query" type="search" value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" placeholder="e.g. Dijkstra or 999999308" />
          <button type="submit" className="primary" disabled={busy}>Search</button>
        </div>
      </form>
      {error && <p className="alert" role="alert">{error}</p>}
      <div role="status" aria-live="polite" className="hint">{busy ? 'Searching…' : rows ? `${total} patient${total === 1 ? '' : 's'} found` : ''}</div>
      {rows && rows.length > 0 && (
        <table className="grid patients">
          <caption className="sr-only">Patients found</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Born</th><th scope="col">Sex</th><th scope="col">Identifiers</th></tr></thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id}>
                <td><a href={href({ view: 'patient', id: p.id, tab: 'summary' })}>{p.name ?? `Patient ${p.id}`}</a></td>
                <td>{p.birthDate}</td>
                <td>{p.gender}</td>
                <td>{p.identifiers.map((i) => i.value).filter(Boolean).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
