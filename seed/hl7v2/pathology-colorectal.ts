import { ageInYears } from './clock.ts';
import type { Field } from './hl7-writer.ts';
import { cwe, MM, morphology, nm, type Report, type ReportTimes, site, SYNOPTIC_ITEMS } from './pathology-codes.ts';
import { type ColorectalTumour, fromIsoDate, type SeedPatient } from './patients.ts';
import type { Rng } from './random.ts';

/** The colonoscopic biopsy and resection reports of a colorectal cancer patient. */
export function colorectalReports(patient: SeedPatient, t: ColorectalTumour, rng: Rng, times: ReportTimes): Report[] {
  const age = ageInYears(fromIsoDate(patient.birthDate), times.biopsy);
  const who = patient.sex === 'F' ? 'Patiënte' : 'Patiënt';
  const where = t.topography.display.toLowerCase();
  const location = t.distanceFromAnalVergeCm === undefined ? `in het ${where}` : `in het ${where} op ${t.distanceFromAnalVergeCm} cm van de anus`;
  const mmr = t.microsatelliteStable
    ? 'MLH1, PMS2, MSH2 en MSH6: kernexpressie behouden; mismatch-repair proficiënt (pMMR).'
    : 'verlies van kernexpressie van MLH1 & PMS2, behouden MSH2 en MSH6; mismatch-repair deficiënt (dMMR). MLH1-promotormethylatie volgt.';
  const msi: Field = t.microsatelliteStable ? ['MSS', 'Microsatelliet stabiel (pMMR)', 'L'] : ['MSI-H', 'Microsatelliet instabiel (dMMR)', 'L'];
  const pieces = rng.int(4, 7);
  const biopsy: Report = {
    kind: 'biopsy',
    ...times.biopsyReport,
    inpatient: false,
    pointOfCare: 'ENDOSCOPIE',
    specimen: {
      type: ['119382000', 'Specimen from colon', 'SCT'],
      site: [t.bodySite.code, t.bodySite.display, t.bodySite.system],
      description: `Coloscopische biopten ${where}`,
    },
    sections: {
      clinicalInformation: [
        `${who}, ${age} jaar. Coloscopie wegens positieve FIT | veranderd defecatiepatroon en anemie.`,
        `Circulair, deels stenoserend proces ${location}. Biopten: maligniteit?`,
      ],
      macroscopy: [`Ontvangen in formaline: ${pieces} grijsroze weefselstukjes van ~2-4 mm.`, 'Geheel ingesloten (A1-A2).'],
      microscopy: [
        'Slijmvliesbiopten van colon met een infiltratief groeiend adenocarcinoom uit atypische klierbuizen met "dirty necrosis".',
        'Laaggradig (klierbuisvorming >50%). Geen slijmvorming van betekenis.',
        `Mismatch-repair immunohistochemie: ${mmr}`,
      ],
      conclusion: [`Colon, ${where}, biopten: adenocarcinoom, laaggradig; ${t.microsatelliteStable ? 'pMMR (MSS)' : 'dMMR (MSI-H)'}.`],
    },
    items: [cwe(SYNOPTIC_ITEMS.histology, morphology(patient)), cwe(SYNOPTIC_ITEMS.primarySite, site(t)), cwe(SYNOPTIC_ITEMS.microsatellite, msi)],
  };

  const length = rng.int(180, 320);
  const marginMm = rng.int(40, 90);
  const depth = t.pT === 'pT4a' ? 'door de serosa heen (perforatie van het viscerale peritoneum)' : 'door de muscularis propria tot in het pericolische vetweefsel';
  const resection: Report = {
    kind: 'resection',
    ...times.resectionReport,
    inpatient: true,
    pointOfCare: 'CHIR-GE',
    specimen: {
      type: [t.resectionSpecimen.code, t.resectionSpecimen.display, t.resectionSpecimen.system],
      site: [t.bodySite.code, t.bodySite.display, t.bodySite.system],
      description: `${t.resectionName} met mesocolon`,
    },
    sections: {
      clinicalInformation: [`Laparoscopische ${t.resectionName} wegens adenocarcinoom ${where} (biopt ${times.biopsyFiller}). Geen neoadjuvante behandeling.`],
      macroscopy: [
        `Ontvangen vers: ${t.resectionName}-preparaat, lengte ${length} mm, met mesocolon en intact mesocolisch vlak.`,
        `Ulcererende, circulaire tumor van ${t.sizeMm} x ${Math.max(15, t.sizeMm - rng.int(5, 15))} mm; afstand tot het dichtstbijzijnde snijvlak ${marginMm} mm.`,
        `Uit het mesocolon ${t.nodesExamined} lymfklieren uitgeprepareerd (C1-C${Math.ceil(t.nodesExamined / 4)}).`,
      ],
      microscopy: [
        `Adenocarcinoom, laaggradig, met ingroei ${depth}.`,
        'Geen tumordeposities; extramurale veneuze invasie niet aangetoond; perineurale groei afwezig.',
        `Lymfklieren: ${t.nodesPositive}/${t.nodesExamined} met metastasen.`,
        'Proximale, distale en circumferentiële snijvlakken vrij (R0).',
      ],
      conclusion: [
        `${t.resectionName[0]?.toUpperCase() ?? ''}${t.resectionName.slice(1)}: adenocarcinoom van het ${where}, laaggradig, ${t.sizeMm} mm, R0.`,
        `${t.nodesPositive}/${t.nodesExamined} lymfklieren positief. TNM (8e editie): ${t.pT} ${t.pN}; cM0.`,
      ],
    },
    items: [
      cwe(SYNOPTIC_ITEMS.histology, morphology(patient)),
      cwe(SYNOPTIC_ITEMS.primarySite, site(t)),
      nm(SYNOPTIC_ITEMS.tumourSize, t.sizeMm, MM),
      cwe(SYNOPTIC_ITEMS.resectionMargin, ['R0', 'Vrij (R0)', 'L']),
      nm(SYNOPTIC_ITEMS.nodesExamined, t.nodesExamined),
      nm(SYNOPTIC_ITEMS.nodesPositive, t.nodesPositive),
      cwe(SYNOPTIC_ITEMS.pT, [t.pT, t.pT, 'AJCC']),
      cwe(SYNOPTIC_ITEMS.pN, [t.pN, t.pN, 'AJCC']),
      cwe(SYNOPTIC_ITEMS.cM, ['cM0', 'cM0', 'AJCC']),
    ],
  };
  return [biopsy, resection];
}

