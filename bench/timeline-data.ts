import type { Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import type { ResourceDoc } from '../schema/collections.ts';
import { computeSearchKeys } from '../schema/search-index.ts';

/**
 * Synthetic record of one patient with `events` timeline events, written straight into the
 * resources collection (bypassing the Repository, for speed): 40 % lab panels (a report with
 * three results), 40 % lone observations, 10 % letters, 5 % imaging studies, 5 % diagnoses.
 */
export async function writeBenchPatient(database: Database, patient: string, events: number): Promise<number> {
  const subject = { reference: `Patient/${patient}` };
  const start = Date.UTC(2010, 0, 1);
  const out: Resource[] = [{ resourceType: 'Patient', id: patient, name: [{ family: 'Bench', given: ['Tim'] }] }];
  const loinc = (code: string, text: string) => ({ coding: [{ system: 'http://loinc.org', code }], text });
  for (let i = 0; i < events; i++) {
    const when = new Date(start + i * 3_600_000 * 7).toISOString();
    const id = `b${i}`;
    const kind = i % 20;
    if (kind < 8) {
      const analytes = [['718-7', 'Hb', 7.1, 'mmol/L'], ['6690-2', 'WBC', 3.2, '10*9/L'], ['777-3', 'PLT', 245, '10*9/L']] as const;
      const obs = analytes.map(([code, text, v, unit], j): Resource => ({
        resourceType: 'Observation', id: `${id}o${j}`, status: 'final', subject, code: loinc(code, text), effectiveDateTime: when,
        valueQuantity: { value: v + (i % 7) / 10, unit, system: 'http://unitsofmeasure.org', code: unit }, interpretation: i % 3 ? [] : [{ coding: [{ code: 'L' }] }],
      }));
      out.push(...obs, { resourceType: 'DiagnosticReport', id, status: 'final', subject, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }], code: loinc('58410-2', 'CBC panel'), effectiveDateTime: when, result: obs.map((o) => ({ reference: `Observation/${o.id}` })) });
    } else if (kind < 16) {
      out.push({ resourceType: 'Observation', id, status: 'final', subject, category: [{ coding: [{ code: 'laboratory' }] }], code: loinc('2039-6', 'CEA'), effectiveDateTime: when, valueQuantity: { value: 3 + (i % 5), unit: 'ug/L' } });
    } else if (kind < 18) {
      out.push({ resourceType: 'DocumentReference', id, status: 'current', subject, date: when, type: { text: 'Outpatient letter' }, description: `Visit ${i}`, content: [{ attachment: { contentType: 'text/plain', url: `Binary/${id}` } }] });
    } else if (kind < 19) {
      out.push({ resourceType: 'ImagingStudy', id, status: 'available', subject, started: when, description: 'CT thorax', numberOfSeries: 3, numberOfInstances: 300, series: [{ uid: `1.2.3.${i}`, modality: { code: 'CT' } }] });
    } else {
      out.push({ resourceType: 'Condition', id, subject, code: { text: `Finding ${i}` }, onsetDateTime: when });
    }
  }
  const docs: ResourceDoc[] = out.map((r) => {
    const res = { ...r, meta: { versionId: '1', lastUpdated: new Date().toISOString() } } as Resource;
    const keys = computeSearchKeys(res);
    return { _id: `${r.resourceType}/${r.id}`, rt: r.resourceType, id: r.id as string, vid: 1, lu: new Date(), deleted: false, patients: keys.patients, keys: keys.keys, sp: keys.sp, so: keys.so, json: JSON.stringify(res) };
  });
  for (let i = 0; i < docs.length; i += 1000) await database.c.resources.insertMany(docs.slice(i, i + 1000));
  return docs.length;
}
