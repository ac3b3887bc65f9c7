import { useEffect, useState } from 'react';
import { gql } from '../api.ts';
import { href, type PatientTab } from '../route.ts';
import { CaseSummary } from './CaseSummary.tsx';
import { Timeline } from './Timeline.tsx';
import { LabTrends } from './LabTrends.tsx';
import { Reports } from './Reports.tsx';

interface PatientHead { id: string; name: string | null; birthDate: string | null; gender: string | null; identifiers: { system: string | null; value: string | null }[] }

const TAB_NAMES: Record<PatientTab, string> = { summary: 'Case summary', timeline: 'Timeline', labs: 'Lab trends', reports: 'Reports and letters' };

/** One patient: a header, then the case summary, timeline, lab trends or the report reader. */
export function PatientPage({ id, tab, read }: { id: string; tab: PatientTab; read?: string | undefined }) {
  const [patient, setPatient] = useState<PatientHead | null>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    gql<{ patient: PatientHead | null }>(`query ($id: ID!) { patient(id: $id) { id name birthDate gender identifiers { system value } } }`, { id })
      .then((d) => setPatient(d.patient))
      .catch((e: unknown) => setError((e as Error).message));
  }, [id]);

  if (error) return <p className="alert" role="alert">{error}</p>;
  if (patient === undefined) return <p role="status">Loading the patient…</p>;
  if (patient === null) return <p className="alert" role="alert">No patient with id {id}, or you may not see this patient.</p>;
  return (
    <article aria-labelledby="patient-name">
      <header className="patient">
        <h1 id="patient-name">{patient.name ?? `Patient ${patient.id}`}</h1>
        <p className="facts">
          {patient.birthDate && <span>Born {patient.birthDate}</span>}
          {patient.gender && <span>{patient.gender}</span>}
          {patient.identifiers.filter((i) => i.value).map((i) => <span key={`${i.system}|${i.value}`} title={i.system ?? undefined}>{i.system?.endsWith('/bsn') ? 'BSN ' : ''}{i.value}</span>)}
        </p>
        <nav aria-label="Patient record" className="tabs">
          {(Object.keys(TAB_NAMES) as PatientTab[]).map((t) => (
            <a key={t} href={href({ view: 'patient', id, tab: t })} aria-current={t === tab ? 'page' : undefined}>{TAB_NAMES[t]}</a>
          ))}
        </nav>
      </header>
      {tab === 'summary' && <CaseSummary id={id} />}
      {tab === 'timeline' && <Timeline id={id} />}
      {tab === 'labs' && <LabTrends id={id} />}
      {tab === 'reports' && <Reports id={id} read={read} />}
    </article>
  );
}
