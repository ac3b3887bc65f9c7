/**
 * AJCC 8th edition stage groups from T, N and M categories, for the two cancers whose tables IDR
 * holds: breast (the anatomic stage groups, AJCC Cancer Staging Manual 8th ed., chapter 48) and
 * colon and rectum (chapter 20). A group is returned only when the categories decide it; anything
 * else (TX, NX, no M, an unsubclassified category the table splits, another cancer) is "not
 * derivable" with the reason — never a guess.
 */

/** The cancers with a stage table. */
export const STAGE_TABLES = { breast: 'breast', colorectal: 'colorectal' } as const;
export type StageTable = (typeof STAGE_TABLES)[keyof typeof STAGE_TABLES];

/** The staging system a derived group follows. */
export const DERIVED_STAGE_SYSTEM: Record<StageTable, string> = {
  breast: 'AJCC 8th edition, anatomic stage group (breast)',
  colorectal: 'AJCC 8th edition, stage group (colon and rectum)',
};

export type StageResult = { group: string } | { notDerivable: string };

/** A TNM category split into its prefix ("p", "c", "yp"…), letter and category ("pN1a(sn)" → p, N, 1a). */
export interface TnmCategory { prefix: string; letter: 'T' | 'N' | 'M'; category: string }

/** Parses "pT2", "ypN1a(sn)", "cM0", "T1c", "N0(i+)"; null when it is not a T, N or M category. */
export function parseCategory(text: string | undefined): TnmCategory | null {
  const m = /^\s*([rya]{0,2}[pc]?)\s*([TNM])\s*([0-9X]|is)([a-d]|mi)?\s*(\([^)]*\))?\s*$/i.exec(text ?? '');
  if (!m) return null;
  const category = `${m[3]?.toLowerCase() === 'is' ? 'is' : (m[3] ?? '').toUpperCase()}${(m[4] ?? '').toLowerCase()}`;
  return { prefix: (m[1] ?? '').toLowerCase(), letter: (m[2] ?? '').toUpperCase() as 'T' | 'N' | 'M', category };
}

/** The cancer's table from an ICD-O-3 topography or ICD-10 code (C50 breast; C18–C20 colon and rectum). */
export function stageTableFor(code: string | undefined): StageTable | undefined {
  if (!code) return undefined;
  if (/^C50(\.\d)?$/i.test(code)) return STAGE_TABLES.breast;
  if (/^C(18|19|20)(\.\d)?$/i.test(code)) return STAGE_TABLES.colorectal;
  return undefined;
}

/** Derives the stage group of `table` from T, N and M categories ("pT2", "pN1a(sn)", "cM0"). */
export function deriveStageGroup(table: StageTable | undefined, t: string | undefined, n: string | undefined, m: string | undefined): StageResult {
  if (!table) return { notDerivable: 'no stage table for this cancer (IDR holds AJCC 8th breast and colorectal)' };
  const T = parseCategory(t);
  const N = parseCategory(n);
  const M = parseCategory(m);
  if (!M || M.letter !== 'M') return { notDerivable: 'M category not stated' };
  if (M.category === 'X') return { notDerivable: 'MX is not a valid M category' };
  if (M.category.startsWith('1')) {
    if (table === STAGE_TABLES.breast) return { group: 'IV' };
    const sub = M.category.slice(1);
    return { group: sub ? `IV${sub.toUpperCase()}` : 'IV' };
  }
  if (!T || T.letter !== 'T') return { notDerivable: 'T category not stated' };
  if (!N || N.letter !== 'N') return { notDerivable: 'N category not stated' };
  if (T.category === 'X') return { notDerivable: 'TX: primary tumour not assessed' };
  if (N.category === 'X') return { notDerivable: 'NX: regional nodes not assessed' };
  return table === STAGE_TABLES.breast ? breast(T.category, N.category) : colorectal(T.category, N.category);
}

/** Breast, M0: anatomic stage groups (T1 includes T1mi; N1mi counts as N1 except with T0/T1, where it is IB). */
function breast(t: string, n: string): StageResult {
  const T = t === 'is' ? 'is' : t.charAt(0);
  if (!['is', '0', '1', '2', '3', '4'].includes(T)) return { notDerivable: `T${t} is not a breast T category` };
  const N = n === '1mi' ? '1mi' : n.charAt(0);
  if (!['0', '1mi', '1', '2', '3'].includes(N) || (n.length > 1 && n !== '1mi' && !/^[0-3][a-c]$/.test(n))) return { notDerivable: `N${n} is not a breast N category` };
  if (N === '3') return { group: 'IIIC' };
  if (T === 'is') return N === '0' ? { group: '0' } : { notDerivable: `Tis with N${n} has no stage group` };
  if (T === '4') return { group: 'IIIB' };
  if (N === '2') return { group: 'IIIA' };
  if (T === '0' && N === '0') return { notDerivable: 'T0 N0: no evidence of a primary tumour' };
  if ((T === '0' || T === '1') && N === '1mi') return { group: 'IB' };
  const N1 = N === '1mi' ? '1' : N;
  const key = `${T}${N1}`;
  const table: Record<string, string> = { '10': 'IA', '01': 'IIA', '11': 'IIA', '20': 'IIA', '21': 'IIB', '30': 'IIB', '31': 'IIIA' };
  const group = table[key];
  return group ? { group } : { notDerivable: `T${t} N${n} has no stage group` };
}

/** Colon and rectum, M0. An unsubclassified T4 or N2 is derived only when both subcategories give the same group. */
function colorectal(t: string, n: string): StageResult {
  const ts = t === '4' ? ['4a', '4b'] : [t];
  const ns = n === '2' ? ['2a', '2b'] : [n];
  const groups = new Set<string>();
  for (const T of ts) {
    for (const N of ns) {
      const r = colorectalOne(T, N);
      if ('notDerivable' in r) return r;
      groups.add(r.group);
    }
  }
  if (groups.size > 1) return { notDerivable: `T${t} N${n}: the subcategory (${t === '4' ? 'T4a/T4b' : 'N2a/N2b'}) decides the group and is not stated` };
  return { group: [...groups][0] as string };
}

function colorectalOne(t: string, n: string): StageResult {
  if (!['is', '0', '1', '2', '3', '4a', '4b'].includes(t)) return { notDerivable: `T${t} is not a colorectal T category` };
  if (!['0', '1', '1a', '1b', '1c', '2a', '2b'].includes(n)) return { notDerivable: `N${n} is not a colorectal N category` };
  if (t === '0') return { notDerivable: 'T0: no evidence of a primary tumour' };
  if (t === 'is') return n === '0' ? { group: '0' } : { notDerivable: `Tis with N${n} has no stage group` };
  if (n === '0') return { group: ({ '1': 'I', '2': 'I', '3': 'IIA', '4a': 'IIB', '4b': 'IIC' } as Record<string, string>)[t] as string };
  if (n.startsWith('1')) return { group: t === '1' || t === '2' ? 'IIIA' : t === '4b' ? 'IIIC' : 'IIIB' };
  if (n === '2a') return { group: t === '1' ? 'IIIA' : t === '2' || t === '3' ? 'IIIB' : 'IIIC' };
  return { group: t === '1' || t === '2' ? 'IIIB' : 'IIIC' };
}
