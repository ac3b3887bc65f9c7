/** Narrative text of a parsed C-CDA document (the object from @medplum/ccda's convertXmlToCcda). */

const BLOCK = new Set(['tr', 'paragraph', 'item', 'br', 'caption', 'thead', 'tbody', 'tfoot', 'table', 'list', 'section', 'component']);

/** Flattens a CDA narrative block (`section.text`) to plain text: rows, paragraphs and list items on their own lines, cells joined by " | ". */
export function narrativeText(node: unknown, key = ''): string {
  if (node === null || node === undefined) return '';
  if (typeof node === 'string' || typeof node === 'number') return String(node).replace(/\s+/g, ' ').trim();
  if (Array.isArray(node)) {
    const parts = node.map((n) => narrativeText(n, key)).filter(Boolean);
    return parts.join(key === 'td' || key === 'th' ? ' | ' : BLOCK.has(key) ? '\n' : ' ');
  }
  if (typeof node !== 'object') return '';
  const parts: string[] = [];
  let block = false;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k.startsWith('@_')) continue;
    const t = narrativeText(v, k);
    if (!t) continue;
    parts.push(t);
    if (BLOCK.has(k)) block = true;
  }
  return parts.join(block ? '\n' : ' ');
}

interface Section {
  title?: unknown;
  text?: unknown;
  component?: SectionHolder | SectionHolder[];
}
/** fast-xml-parser gives `section` as an object or as an array, depending on the parser options. */
interface SectionHolder {
  section?: Section | Section[];
}

function sectionsOf(holders: SectionHolder | SectionHolder[] | undefined, depth: number): string[] {
  const out: string[] = [];
  for (const h of Array.isArray(holders) ? holders : holders ? [holders] : []) {
    const list = Array.isArray(h.section) ? h.section : h.section ? [h.section] : [];
    for (const s of list) out.push(sectionText(s, depth));
  }
  return out.filter(Boolean);
}

function sectionText(s: Section, depth: number): string {
  const title = narrativeText(s.title);
  const body = narrativeText(s.text);
  const nested = sectionsOf(s.component, depth + 1);
  return [title ? `${'#'.repeat(Math.min(depth, 6))} ${title}` : '', body, ...nested].filter(Boolean).join('\n');
}

/** Title plus every section's title and narrative, in document order; unstructured bodies (nonXMLBody text) too. */
export function documentText(ccda: unknown): string {
  const doc = ccda as { title?: unknown; component?: { structuredBody?: { component?: SectionHolder | SectionHolder[] }; nonXMLBody?: { text?: unknown } } };
  const title = narrativeText(doc.title);
  const sections = sectionsOf(doc.component?.structuredBody?.component, 2);
  const unstructured = narrativeText(doc.component?.nonXMLBody?.text);
  return [title ? `# ${title}` : '', ...sections, unstructured].filter(Boolean).join('\n\n');
}
