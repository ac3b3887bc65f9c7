import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { fhir } from '../api.ts';
import { formatDateTime } from '../format.ts';
import { href } from '../route.ts';

interface Reference { reference?: string; display?: string }
interface Appointment { resourceType: 'Appointment'; id: string; status: string; description?: string; start?: string; end?: string; serviceType?: { text?: string }[]; supportingInformation?: Reference[] }
interface TaskOutput { type?: { text?: string }; valueReference?: Reference; valueDateTime?: string; valueString?: string }
interface Task { resourceType: 'Task'; id: string; status: string; for?: Reference; authoredOn?: string; input?: { type?: { text?: string }; valueString?: string }[]; output?: TaskOutput[] }
interface Patient { resourceType: 'Patient'; id: string; name?: { family?: string; given?: string[]; use?: string }[] }
interface Bundle<T> { entry?: { resource?: T; search?: { mode?: string } }[] }
interface Parameters { parameter?: { name: string; valueString?: string; valueUrl?: string; valueUri?: string; valueDateTime?: string; valueInstant?: string; resource?: unknown }[] }
interface Changed { resourceType: string; id: string; meta?: { versionId?: string; lastUpdated?: string } }

const patientName = (p?: Patient): string | undefined => {
  const n = p?.name?.find((x) => x.use === 'official') ?? p?.name?.[0];
  return n ? [...(n.given ?? []), n.family].filter(Boolean).join(' ') : undefined;
};

/** The board's meetings (Appointments whose service is a tumour board), newest first. */
function Meetings() {
  const [meetings, setMeetings] = useState<Appointment[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    fhir<Bundle<Appointment>>('Appointment?_count=100')
      .then((b) => setMeetings((b.entry ?? []).map((e) => e.resource).filter((a): a is Appointment => !!a && !!a.serviceType?.some((s) => /tumou?r board/i.test(s.text ?? ''))).sort((a, b) => (b.start ?? '').localeCompare(a.start ?? ''))))
      .catch((e: unknown) => setError((e as Error).message));
  }, []);
  return (
    <section aria-labelledby="board-title">
      <h1 id="board-title">Tumour board meetings</h1>
      {error && <p className="alert" role="alert">{error}</p>}
      {!meetings && !error && <p role="status">Loading meetings…</p>}
      {meetings && !meetings.length && <p className="muted">No tumour board meetings you may see.</p>}
      {meetings && meetings.length > 0 && (
        <ul className="plain meetings">
          {meetings.map((m) => (
            <li key={m.id}>
              <a href={href({ view: 'board', meeting: m.id })}>{m.description ?? 'Tumour board'}</a>{' '}
              <time dateTime={m.start}>{formatDateTime(m.start)}</time> <span className="muted">{m.supportingInformation?.map((s) => s.display ?? s.reference).join(', ')} · {m.status}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function DecideForm({ task, onDone }: { task: Task; onDone: (message: string) => void }) {
  const [decision, setDecision] = useState('');
  const [recommendation, setRecommendation] = useState('');
  const [intent, setIntent] = useState('');
  const [error, setError] = useState<string>();
  const INTENTS: Record<string, string> = { '373808002': 'Curative - procedure intent', '363676003': 'Palliative - procedure intent' };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await fhir(`Task/${task.id}/$decide`, { method: 'POST', body: { resourceType: 'Parameters', parameter: [
        { name: 'decision', valueString: decision },
        { name: 'recommendation', valueString: recommendation },
        ...(intent ? [{ name: 'intent', valueCoding: { system: 'http://snomed.info/sct', code: intent, display: INTENTS[intent] } }] : []),
      ] } });
      onDone('Decision recorded; the case is completed.');
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="stack" onSubmit={(e) => void submit(e)} aria-label={`Decision for task ${task.id}`}>
      <label htmlFor={`decision-${task.id}`}>Decision</label>
      <textarea id={`decision-${task.id}`} required value={decision} onChange={(e) => setDecision(e.target.value)} rows={2} />
      <label htmlFor={`rec-${task.id}`}>Recommendation</label>
      <textarea id={`rec-${task.id}`} required value={recommendation} onChange={(e) => setRecommendation(e.target.value)} rows={2} />
      <label htmlFor={`intent-${task.id}`}>Intent</label>
      <select id={`intent-${task.id}`} value={intent} onChange={(e) => setIntent(e.target.value)}>
        <option value="">(not stated)</option>
        {Object.entries(INTENTS).map(([code, text]) => <option key={code} value={code}>{text}</option>)}
      </select>
      <button type="submit" className="primary">Record the decision</button>
      {error && <p className="alert" role="alert">{error}</p>}
    </form>
  );
}

function ShareForm({ task }: { task: Task }) {
  const [recipient, setRecipient] = useState('');
  const [purpose, setPurpose] = useState('second-opinion');
  const [expires, setExpires] = useState('');
  const [link, setLink] = useState<{ url: string; expires?: string }>();
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      const out = await fhir<Parameters>(`Task/${task.id}/$share`, { method: 'POST', body: { resourceType: 'Parameters', parameter: [
        { name: 'recipient', valueString: recipient },
        { name: 'purpose', valueCode: purpose },
        ...(expires ? [{ name: 'expires', valueDateTime: `${expires}T23:59:00Z` }] : []),
      ] } });
      const p = (name: string) => out.parameter?.find((x) => x.name === name);
      const url = p('link')?.valueUrl ?? p('link')?.valueUri ?? p('link')?.valueString;
      if (!url) throw new Error('IDR answered no link');
      const exp = p('expires');
      setLink({ url, ...(exp?.valueDateTime ?? exp?.valueInstant ? { expires: exp.valueDateTime ?? exp.valueInstant } : {}) });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  if (link) {
    return (
      <div className="share-link" role="status">
        <p><strong>Shared.</strong> This link is shown once; send it to the recipient only{link.expires ? ` (valid until ${formatDateTime(link.expires)})` : ''}:</p>
        <p><label htmlFor={`link-${task.id}`} className="sr-only">Shared link</label><input id={`link-${task.id}`} readOnly value={link.url} onFocus={(e) => e.target.select()} size={60} /></p>
      </div>
    );
  }
  return (
    <form className="stack" onSubmit={(e) => void submit(e)} aria-label={`Share task ${task.id}`}>
      <label htmlFor={`to-${task.id}`}>Recipient (Name &lt;e-mail&gt;)</label>
      <input id={`to-${task.id}`} required value={recipient} onChange={(e) => setRecipient(e.target.value)} placeholder="Dr. E. Xpert <e.xpert@umc.example>" />
      <label htmlFor={`purpose-${task.id}`}>Purpose</label>
      <select id={`purpose-${task.id}`} value={purpose} onChange={(e) => setPurpose(e.target.value)}>
        <option value="second-opinion">Second opinion</option>
        <option value="consultation">Consultation</option>
        <option value="revision">Revision</option>
      </select>
      <label htmlFor={`exp-${task.id}`}>Expires (optional, at most 90 days)</label>
      <input id={`exp-${task.id}`} type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
      <button type="submit" className="primary">Share the case</button>
      {error && <p className="alert" role="alert">{error}</p>}
    </form>
  );
}

/** One case on the agenda: its question, state and the board's actions. */
function Case({ task, patient, reload }: { task: Task; patient?: Patient | undefined; reload: () => void }) {
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const [changes, setChanges] = useState<Changed[]>();
  const [deciding, setDeciding] = useState(false);
  const [sharing, setSharing] = useState(false);
  const pid = task.for?.reference?.split('/')[1];
  const question = task.input?.find((i) => i.valueString)?.valueString;
  const out = (name: string) => task.output?.find((o) => o.type?.text === name);
  const prepared = out('Prepared at')?.valueDateTime;
  const decision = out('Decision')?.valueReference?.reference;
  const open = task.status !== 'completed' && task.status !== 'cancelled';
  const act = async (what: () => Promise<void>): Promise<void> => {
    setError(undefined);
    setMessage(undefined);
    try {
      await what();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <li className="case card" data-task={task.id}>
      <h3>{pid ? <a href={href({ view: 'patient', id: pid, tab: 'summary' })}>{patientName(patient) ?? task.for?.display ?? task.for?.reference}</a> : 'Unknown patient'}</h3>
      {question && <p className="question"><span className="muted">Question: </span>{question}</p>}
      <p className="muted">Status {task.status}{prepared ? ` · prepared ${formatDateTime(prepared)}` : ' · not prepared'}{decision ? ' · decision recorded' : ''}</p>
      <div className="actions">
        {open && <button type="button" onClick={() => void act(async () => { await fhir(`Task/${task.id}/$prepare`, { method: 'POST', body: { resourceType: 'Parameters' } }); setMessage('Case pack prepared.'); reload(); })}>{prepared ? 'Prepare again' : 'Prepare the case'}</button>}
        {prepared && <button type="button" onClick={() => void act(async () => { const b = await fhir<Bundle<Changed>>(`Task/${task.id}/$changes`); setChanges((b.entry ?? []).map((e) => e.resource).filter((r): r is Changed => !!r)); })}>What is new since preparation</button>}
        {open && prepared && <button type="button" aria-expanded={deciding} onClick={() => setDeciding(!deciding)}>Record a decision</button>}
        {prepared && <button type="button" aria-expanded={sharing} onClick={() => setSharing(!sharing)}>Share the case</button>}
      </div>
      {message && <p role="status" className="ok">{message}</p>}
      {error && <p className="alert" role="alert">{error}</p>}
      {changes && (
        <section aria-label="New since preparation">
          <h4>New since preparation</h4>
          {changes.length ? (
            <ul className="plain">{changes.map((c) => <li key={`${c.resourceType}/${c.id}/${c.meta?.versionId}`}>{c.resourceType}/{c.id} version {c.meta?.versionId} <span className="muted">{formatDateTime(c.meta?.lastUpdated)}</span></li>)}</ul>
          ) : <p className="muted">Nothing new.</p>}
        </section>
      )}
      {deciding && open && <DecideForm task={task} onDone={(m) => { setDeciding(false); setMessage(m); reload(); }} />}
      {sharing && <ShareForm task={task} />}
    </li>
  );
}

/** A meeting's agenda: the Tasks based on it, with their patients. */
function Agenda({ meeting }: { meeting: string }) {
  const [appointment, setAppointment] = useState<Appointment>();
  const [tasks, setTasks] = useState<Task[]>();
  const [patients, setPatients] = useState<Map<string, Patient>>(new Map());
  const [error, setError] = useState<string>();
  const load = useCallback(() => {
    fhir<Appointment>(`Appointment/${encodeURIComponent(meeting)}`).then(setAppointment).catch((e: unknown) => setError((e as Error).message));
    fhir<Bundle<Task | Patient>>(`Task?based-on=${encodeURIComponent(`Appointment/${meeting}`)}&_include=Task:patient&_count=100`)
      .then((b) => {
        const resources = (b.entry ?? []).map((e) => e.resource).filter((r): r is Task | Patient => !!r);
        setTasks(resources.filter((r): r is Task => r.resourceType === 'Task'));
        setPatients(new Map(resources.filter((r): r is Patient => r.resourceType === 'Patient').map((p) => [`Patient/${p.id}`, p])));
      })
      .catch((e: unknown) => setError((e as Error).message));
  }, [meeting]);
  useEffect(load, [load]);
  return (
    <section aria-labelledby="agenda-title">
      <p><a href={href({ view: 'board' })}>All meetings</a></p>
      <h1 id="agenda-title">{appointment?.description ?? 'Tumour board'} {appointment?.start && <time dateTime={appointment.start}>{formatDateTime(appointment.start)}</time>}</h1>
      {error && <p className="alert" role="alert">{error}</p>}
      {!tasks && !error && <p role="status">Loading the agenda…</p>}
      {tasks && !tasks.length && <p className="muted">No cases on the agenda that you may see.</p>}
      {tasks && tasks.length > 0 && <ol className="plain agenda" aria-label="Cases on the agenda">{tasks.map((t) => <Case key={t.id} task={t} patient={patients.get(t.for?.reference ?? '')} reload={load} />)}</ol>}
    </section>
  );
}

/** The tumour board: its meetings, and a meeting's agenda. */
export function TumourBoard({ meeting }: { meeting?: string | undefined }) {
  return meeting ? <Agenda meeting={meeting} /> : <Meetings />;
}
