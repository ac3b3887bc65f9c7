import { ageInYears } from './clock.ts';
import {
  type CodedItem,
  cwe,
  MM,
  morphology,
  NEGATIVE,
  nm,
  NOTTINGHAM,
  PERCENT,
  POSITIVE,
  type Report,
  type ReportTimes,
  site,
  SYNOPTIC_ITEMS,
} from './pathology-codes.ts';
import { type BreastTumour, fromIsoDate, type SeedPatient } from './patients.ts';
import type { Rng } from './random.ts';

const side = (t: BreastTumour): string => (t.laterality === 'left' ? 'links' : 'rechts');
const receptor = (pct: number): string => (pct >= 10 ? `positief (${pct}%)` : pct > 0 ? `laag positief (${pct}%)` : 'negatief (0%)');
const her2Text = (t: BreastTumour): string => (t.her2Ihc === '3+' ? 'positief (score 3+)' : `negatief (score ${t.her2Ihc})`);

/** The core needle biopsy and lumpectomy reports of a breast cancer patient. */
export function breastReports(patient: SeedPatient, t: BreastTumour, rng: Rng, times: ReportTimes): Report[] {
  const age = ageInYears(fromIsoDate(patient.birthDate), times.biopsy);
  const cores = [rng.int(11, 17), rng.int(9, 16), rng.int(8, 15)];
  const tubules = t.grade === 1 ? 2 : 3;
  const pleomorphism = t.grade === 3 ? 3 : 2;
  const mitoses = t.grade === 1 ? 1 : t.grade === 2 ? 2 : 3;
  const score = tubules + pleomorphism + mitoses;
  const grade = t.grade;
  const er = t.erPercent > 0;
  const pr = t.prPercent > 0;
  const her2Positive = t.her2Ihc === '3+';
  const receptorItems: CodedItem[] = [
    cwe(SYNOPTIC_ITEMS.estrogenReceptor, er ? POSITIVE : NEGATIVE),
    cwe(SYNOPTIC_ITEMS.progesteroneReceptor, pr ? POSITIVE : NEGATIVE),
    cwe(SYNOPTIC_ITEMS.her2Ihc, [t.her2Ihc, `Score ${t.her2Ihc}`, 'L']),
    cwe(SYNOPTIC_ITEMS.her2, her2Positive ? POSITIVE : NEGATIVE),
    nm(SYNOPTIC_ITEMS.ki67, t.ki67Percent, PERCENT),
  ];
  const biopsy: Report = {
    kind: 'biopsy',
    ...times.biopsyReport,
    inpatient: false,
    pointOfCare: 'POLI-MAMMA',
    specimen: {
      type: ['122737001', 'Specimen from breast obtained by core needle biopsy', 'SCT'],
      site: [t.bodySite.code, t.bodySite.display, t.bodySite.system],
      description: `Mamma ${side(t)}, ${t.clockPosition} uur, 3 naaldbiopten (14G)`,
    },
    sections: {
      clinicalInformation: [
        `Patiënte, ${age} jaar. Verwezen via bevolkingsonderzoek | mammografie: BI-RADS 5 laesie mamma ${side(t)}, ${t.clockPosition} uur.`,
        `Echogeleide stanspunctie (14G), 3 naaldbiopten. Vraagstelling: maligniteit? Zo ja: type, graad & receptorstatus.`,
      ],
      macroscopy: [
        `Ontvangen in formaline: 3 grijswitte cilindrische weefselstukjes van ${cores.join(', ')} mm lengte, diameter ~1 mm.`,
        'Geheel ingesloten in 1 cassette (A1).',
      ],
      microscopy: [
        'Naaldbiopten van mammaweefsel met een infiltratief groeiend carcinoom in solide en tubulaire verbanden.',
        `Tubulusvorming ${tubules}, kernpleomorfie ${pleomorphism}, mitosen ${mitoses} (per 2 mm^2): Nottingham score ${score}/9, graad ${grade}.`,
        `Immunohistochemie: ER ${receptor(t.erPercent)}; PR ${receptor(t.prPercent)}; HER2 ${her2Text(t)}; Ki-67 ${t.ki67Percent}%.`,
        'Geen DCIS-component in de biopten. Geen lymfangio-invasie gezien.',
      ],
      conclusion: [
        `Mamma ${side(t)}, ${t.clockPosition} uur, naaldbiopten: invasief carcinoom NST (ductaal), Nottingham graad ${grade}.`,
        `ER ${er ? 'positief' : 'negatief'}, PR ${pr ? 'positief' : 'negatief'}, HER2 ${her2Positive ? 'positief' : 'negatief'} \\ Ki-67 ${t.ki67Percent}%.`,
      ],
    },
    items: [cwe(SYNOPTIC_ITEMS.histology, morphology(patient)), cwe(SYNOPTIC_ITEMS.primarySite, site(t)), cwe(SYNOPTIC_ITEMS.nottinghamGrade, NOTTINGHAM[grade]), ...receptorItems],
  };

  const weight = rng.int(28, 64);
  const marginMm = rng.int(3, 12);
  const resection: Report = {
    kind: 'resection',
    ...times.resectionReport,
    inpatient: true,
    pointOfCare: 'CHIR-MAMMA',
    specimen: {
      type: ['397199005', 'Specimen from breast obtained by excision', 'SCT'],
      site: [t.bodySite.code, t.bodySite.display, t.bodySite.system],
      description: `Lumpectomie mamma ${side(t)} met schildwachtklierbiopsie (${t.sentinelNodesExamined} klier${t.sentinelNodesExamined > 1 ? 'en' : ''})`,
    },
    sections: {
      clinicalInformation: [
        `Mammasparende behandeling mamma ${side(t)} wegens invasief carcinoom NST, graad ${grade} (zie naaldbiopt ${times.biopsyFiller}).`,
        'Schildwachtklierprocedure oksel; geen neoadjuvante systemische therapie.',
      ],
      macroscopy: [
        `A. Lumpectomiepreparaat mamma ${side(t)}, ${weight} gram, georiënteerd met draden (kort = craniaal, lang = lateraal).`,
        `Op doorsnede een stervormige grijswitte tumor van ${t.sizeMm} x ${Math.max(6, t.sizeMm - rng.int(2, 6))} mm; kleinste afstand tot het snijvlak ${marginMm} mm (dorsaal).`,
        `B. Schildwachtklier(en) oksel ${side(t)}: ${t.sentinelNodesExamined} lymfklier(en), in lamellen geheel ingesloten.`,
      ],
      microscopy: [
        `A. Invasief carcinoom NST, Nottingham graad ${grade} (score ${score}/9), grootste diameter ${t.sizeMm} mm.`,
        `Snijvlakken vrij van invasief carcinoom en DCIS; kleinste marge ${marginMm} mm.`,
        t.sentinelNodesPositive
          ? `B. ${t.sentinelNodesPositive}/${t.sentinelNodesExamined} schildwachtklier(en) met een macrometastase (4 mm), geen extranodale groei.`
          : `B. ${t.sentinelNodesExamined} schildwachtklier(en) zonder metastasen, ook niet na keratinekleuring (0/${t.sentinelNodesExamined}).`,
      ],
      conclusion: [
        `Mamma ${side(t)}, lumpectomie: invasief carcinoom NST, graad ${grade}, ${t.sizeMm} mm, radicaal verwijderd (marge ${marginMm} mm).`,
        `Schildwachtklier(en): ${t.sentinelNodesPositive}/${t.sentinelNodesExamined} positief. TNM (8e editie): ${t.pT} ${t.pN}; cM0.`,
      ],
    },
    items: [
      cwe(SYNOPTIC_ITEMS.histology, morphology(patient)),
      cwe(SYNOPTIC_ITEMS.primarySite, site(t)),
      cwe(SYNOPTIC_ITEMS.nottinghamGrade, NOTTINGHAM[grade]),
      nm(SYNOPTIC_ITEMS.tumourSize, t.sizeMm, MM),
      cwe(SYNOPTIC_ITEMS.breastMargin, ['LA27151-2', 'Uninvolved by invasive carcinoma', 'LN']),
      nm(SYNOPTIC_ITEMS.nodesExamined, t.sentinelNodesExamined),
      nm(SYNOPTIC_ITEMS.nodesPositive, t.sentinelNodesPositive),
      cwe(SYNOPTIC_ITEMS.pT, [t.pT, t.pT, 'AJCC']),
      cwe(SYNOPTIC_ITEMS.pN, [t.pN, t.pN, 'AJCC']),
      cwe(SYNOPTIC_ITEMS.cM, ['cM0', 'cM0', 'AJCC']),
    ],
  };
  return [biopsy, resection];
}

