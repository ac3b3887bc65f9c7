import type { Observation, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { byCode, fixture, resources, testContext } from './testing.ts';

const observationsOf = (name: string): Observation[] => resources<Observation>(hl7v2ToBundle(fixture(name), testContext()).bundle, 'Observation');

describe('OBX value types', () => {
  const sn = observationsOf('lab-sn-values.hl7');
  it('SN with a comparator -> valueQuantity.comparator', () => {
    expect(byCode(sn, '2039-6').valueQuantity).toEqual({ value: 0.5, comparator: '<', unit: 'ug/L', system: 'http://unitsofmeasure.org', code: 'ug/L' });
    expect(byCode(sn, '6875-9').valueQuantity).toMatchObject({ value: 300, comparator: '>=' });
    expect(byCode(sn, '2160-0').valueQuantity).toEqual({ value: 88, unit: 'umol/L', system: 'http://unitsofmeasure.org', code: 'umol/L' });
  });
  it('SN range -> valueRange, ratio -> valueRatio, "2+" -> valueString', () => {
    expect(byCode(sn, 'RANGE').valueRange).toEqual({
      low: { value: 10, unit: '/[HPF]', system: 'http://unitsofmeasure.org', code: '/[HPF]' },
      high: { value: 20, unit: '/[HPF]', system: 'http://unitsofmeasure.org', code: '/[HPF]' },
    });
    expect(byCode(sn, '5048-4').valueRatio).toEqual({ numerator: { value: 1 }, denominator: { value: 128 } });
    expect(byCode(sn, 'HER2IHC').valueString).toBe('2+');
  });
  it('NM: numbers (negative too); a comparator in NM is read as SN', () => {
    expect(byCode(sn, '2345-7').valueQuantity?.value).toBe(-0.5);
    expect(byCode(sn, '1988-5').valueQuantity).toMatchObject({ value: 5, comparator: '<', code: 'mg/L' });
  });

  const edrp = observationsOf('lab-ed-rp.hl7');
  it('ED -> the R5 Observation.value extension with a lossless attachment', () => {
    const pdf = byCode(edrp, 'PDF');
    expect(pdf.valueString).toBeUndefined();
    expect(pdf.extension).toEqual([{
      url: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value',
      valueAttachment: { contentType: 'application/pdf', data: 'JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PC9Sb290IDEgMCBSPj4KJSVFT0Y=', title: 'GLIMS' },
    }]);
    expect(Buffer.from(pdf.extension?.[0]?.valueAttachment?.data ?? '', 'base64').toString('latin1')).toMatch(/^%PDF-1\.4/);
    const text = byCode(edrp, 'NOTE').extension?.[0]?.valueAttachment;
    expect(text?.contentType).toBe('text/plain');
    expect(Buffer.from(text?.data ?? '', 'base64').toString()).toBe('Plain text note');
  });
  it('RP -> valueString with the pointer (unescaped) plus an extension with all its parts', () => {
    const slide = byCode(edrp, 'SLIDE');
    expect(slide.valueString).toBe('https://pacs.example.org/wsi?study=1.2.3&series=4');
    expect(slide.extension).toEqual([{
      url: 'urn:idr:fhir:extension:hl7v2-reference-pointer',
      extension: [
        { url: 'pointer', valueString: 'https://pacs.example.org/wsi?study=1.2.3&series=4' },
        { url: 'application', valueString: 'PACS/1.2.840.99/ISO' },
        { url: 'type', valueString: 'IM' },
        { url: 'subtype', valueString: 'SVS' },
      ],
    }]);
  });

  it('CWE with several repetitions -> one component per repetition', () => {
    const msg = fixture('lab-sn-values.hl7').replace('OBX|5|SN|HER2IHC^HER2 IHC^L||^2^+', 'OBX|5|CWE|ORG^Organisms^L||3092008^Staphylococcus aureus^SCT~112283007^Escherichia coli^SCT');
    const org = byCode(resources<Observation>(hl7v2ToBundle(msg, testContext()).bundle, 'Observation'), 'ORG');
    expect(org.valueCodeableConcept).toBeUndefined();
    expect(org.component?.map((c) => c.valueCodeableConcept?.coding?.[0])).toEqual([
      { system: 'http://snomed.info/sct', code: '3092008', display: 'Staphylococcus aureus' },
      { system: 'http://snomed.info/sct', code: '112283007', display: 'Escherichia coli' },
    ]);
    expect(org.component?.[0]?.code).toEqual(org.code);
  });
  it('DT / TS -> valueDateTime, TM -> valueTime', () => {
    const msg = fixture('lab-sn-values.hl7')
      .replace('OBX|5|SN|HER2IHC^HER2 IHC^L||^2^+', 'OBX|5|TS|LMP^Last menstrual period^L||20240101')
      .replace('OBX|4|SN|5048-4^ANA titer^LN||^1^:^128', 'OBX|4|TM|DRAW^Draw time^L||0930');
    const list = resources<Observation>(hl7v2ToBundle(msg, testContext()).bundle, 'Observation');
    expect(byCode(list, 'LMP').valueDateTime).toBe('2024-01-01');
    expect(byCode(list, 'DRAW').valueTime).toBe('09:30:00');
  });
});

describe('escape sequences', () => {
  const bundle = hl7v2ToBundle(fixture('lab-escapes.hl7'), testContext()).bundle;
  const list = resources<Observation>(bundle, 'Observation');
  it('unescapes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ in values, names and notes', () => {
    expect(byCode(list, 'COMMENT').valueString).toBe('Ratio A|B^C&D~E\\ end');
    expect(resources<Patient>(bundle, 'Patient')[0]?.name?.[0]?.family).toBe('O&Brien');
    expect(byCode(list, 'MULTI').note).toEqual([{ text: 'Note with & ampersand and | bar' }]);
  });
  it('turns \\.br\\ into line breaks, drops \\H\\ \\N\\, decodes \\Xhh\\, joins repetitions with newlines', () => {
    expect(byCode(list, 'REPORT').valueString).toBe('Line one\nLine two\nBold three A');
    expect(byCode(list, 'MULTI').valueString).toBe('first part\nsecond part');
  });
});

describe('result status (OBX-11) and empty values', () => {
  const list = observationsOf('lab-status-edge.hl7');
  it('I -> registered without value, with data-absent-reason temp-unknown', () => {
    const o = byCode(list, '2160-0');
    expect(o.status).toBe('registered');
    expect(o.valueQuantity).toBeUndefined();
    expect(o.dataAbsentReason?.coding?.[0]).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'temp-unknown' });
  });
  it('X -> cancelled with data-absent-reason not-performed', () => {
    const o = byCode(list, '1742-6');
    expect(o.status).toBe('cancelled');
    expect(o.dataAbsentReason?.coding?.[0]?.code).toBe('not-performed');
  });
  it('D and W -> entered-in-error (value kept)', () => {
    expect(byCode(list, '2951-2').status).toBe('entered-in-error');
    expect(byCode(list, '2823-3').status).toBe('entered-in-error');
    expect(byCode(list, '2823-3').valueQuantity?.value).toBe(4);
  });
  it('R -> preliminary; empty OBX-11 falls back to OBR-25 (P -> preliminary)', () => {
    expect(byCode(list, '2345-7').status).toBe('preliminary');
    expect(byCode(list, '1988-5').status).toBe('preliminary');
  });
});

describe('unescaped line breaks inside text', () => {
  it('keeps a bare \\n inside OBX text (in a \\r-separated message) as a line break, with a warning', () => {
    const msg = fixture('lab-escapes.hl7').replace('first part~second part', 'first part\nstill first');
    const out = hl7v2ToBundle(msg, testContext());
    expect(byCode(resources<Observation>(out.bundle, 'Observation'), 'MULTI').valueString).toBe('first part\nstill first');
    expect(out.warnings).toContain('OBX[3]: unescaped line break in the text kept as a line break');
  });
});
