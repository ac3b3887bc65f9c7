import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { systemContext } from '../store/request-context.ts';
import { EXTENSIONS } from './adapters/hl7v2/constants.ts';
import { DICOM_EXTENSIONS } from './adapters/dicom/constants.ts';
import { AUDIT_EXTENSIONS } from '../store/audit-event.ts';

/**
 * The StructureDefinitions of the extensions IDR's own mappings write (the R5 cross-version ones
 * are HL7's), stored at start-up so a validator or client can resolve each extension URL at
 * /fhir/StructureDefinition/{id} or StructureDefinition?url=.
 * See: https://hl7.org/fhir/R4/extensibility.html#Extension
 */

const BASE = { resourceType: 'StructureDefinition', status: 'active', fhirVersion: '4.0.1', kind: 'complex-type', abstract: false, type: 'Extension', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Extension', derivation: 'constraint', publisher: 'IDR' } as const;

/** The differential of a complex extension with string sub-extensions (the first `required` of them 1..1, the rest 0..1). */
function stringParts(url: string, short: string, parts: { name: string; short: string; required?: boolean }[]): ElementDefinition[] {
  const out: ElementDefinition[] = [
    { id: 'Extension', path: 'Extension', short, definition: short },
    { id: 'Extension.extension', path: 'Extension.extension', slicing: { discriminator: [{ type: 'value', path: 'url' }], rules: 'closed' } },
  ];
  for (const p of parts) {
    out.push(
      { id: `Extension.extension:${p.name}`, path: 'Extension.extension', sliceName: p.name, short: p.short, definition: p.short, min: p.required ? 1 : 0, max: '1' },
      { id: `Extension.extension:${p.name}.url`, path: 'Extension.extension.url', fixedUri: p.name },
      { id: `Extension.extension:${p.name}.value[x]`, path: 'Extension.extension.value[x]', min: 1, type: [{ code: 'string' }] },
    );
  }
  out.push({ id: 'Extension.url', path: 'Extension.url', fixedUri: url }, { id: 'Extension.value[x]', path: 'Extension.value[x]', max: '0' });
  return out;
}

/** Every extension IDR defines, as the StructureDefinition IDR serves. */
export const IDR_EXTENSION_DEFINITIONS: readonly StructureDefinition[] = [
  {
    ...BASE,
    id: 'idr-hl7v2-reference-pointer',
    url: EXTENSIONS.referencePointer,
    name: 'Hl7v2ReferencePointer',
    title: 'HL7 v2 reference pointer',
    description: 'An HL7 v2 OBX value of type RP (reference pointer) with its parts: the pointer (RP-1), the application that holds the data (RP-2, its HD parts joined by "/"), and the type and subtype of the data (RP-3, RP-4). The pointer itself is also Observation.valueString.',
    context: [{ type: 'element', expression: 'Observation' }],
    differential: {
      element: stringParts(EXTENSIONS.referencePointer, 'HL7 v2 reference pointer (RP)', [
        { name: 'pointer', short: 'RP-1 pointer', required: true },
        { name: 'application', short: 'RP-2 application id (namespace/universal id/type)' },
        { name: 'type', short: 'RP-3 type of data' },
        { name: 'subtype', short: 'RP-4 subtype' },
      ]),
    },
  },
  {
    ...BASE,
    id: 'idr-dicom-container-identifier',
    url: DICOM_EXTENSIONS.containerIdentifier,
    name: 'DicomContainerIdentifier',
    title: 'DICOM container (slide) identifier',
    description: 'The Container Identifier (0040,0512) of a whole-slide imaging series: the glass slide the series was scanned from.',
    context: [{ type: 'element', expression: 'ImagingStudy.series' }],
    differential: {
      element: [
        { id: 'Extension', path: 'Extension', short: 'Slide (container) identifier', definition: 'The Container Identifier (0040,0512) of a whole-slide imaging series.' },
        { id: 'Extension.extension', path: 'Extension.extension', max: '0' },
        { id: 'Extension.url', path: 'Extension.url', fixedUri: DICOM_EXTENSIONS.containerIdentifier },
        { id: 'Extension.value[x]', path: 'Extension.value[x]', min: 1, type: [{ code: 'Identifier' }] },
      ],
    },
  },
  auditChainExtension('idr-audit-sequence', AUDIT_EXTENSIONS.sequence, 'AuditSequence', 'Audit chain sequence number', 'The position of this AuditEvent in IDR\'s tamper-evident audit chain (1, 2, 3, …); the id is "audit-" and this number in 12 digits.', 'positiveInt'),
  auditChainExtension('idr-audit-previous-hash', AUDIT_EXTENSIONS.previousHash, 'AuditPreviousHash', 'Audit chain previous hash', 'The hash (SHA-256, lower-case hex) of the previous AuditEvent in the chain; 64 zeros for the first.', 'string'),
  auditChainExtension('idr-audit-hash', AUDIT_EXTENSIONS.hash, 'AuditHash', 'Audit chain hash', 'SHA-256 (lower-case hex) over the previous hash followed by the canonical JSON (keys sorted, no whitespace) of this AuditEvent without this extension and without meta.versionId and meta.lastUpdated.', 'string'),
];

/** A simple extension of the audit hash chain on AuditEvent. */
function auditChainExtension(id: string, url: string, name: string, title: string, description: string, valueType: 'positiveInt' | 'string'): StructureDefinition {
  return {
    ...BASE,
    id,
    url,
    name,
    title,
    description,
    context: [{ type: 'element', expression: 'AuditEvent' }],
    differential: {
      element: [
        { id: 'Extension', path: 'Extension', short: title, definition: description, min: 0, max: '1' },
        { id: 'Extension.extension', path: 'Extension.extension', max: '0' },
        { id: 'Extension.url', path: 'Extension.url', fixedUri: url },
        { id: 'Extension.value[x]', path: 'Extension.value[x]', min: 1, type: [{ code: valueType }] },
      ],
    },
  };
}

/** Stores (or leaves unchanged) IDR's extension definitions; idempotent, run at every start-up. */
export async function publishExtensionDefinitions(repo: Repository): Promise<void> {
  const ctx = systemContext('startup');
  for (const definition of IDR_EXTENSION_DEFINITIONS) await repo.update(ctx, definition);
}
