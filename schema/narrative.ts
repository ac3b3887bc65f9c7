import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { SaxesParser } from 'saxes';

/**
 * The FHIR narrative rules for `text.div`: well-formed XHTML (plain XML entities only), one root
 * `div` in the XHTML namespace, only the basic HTML 4.0 formatting elements and attributes (txt-1:
 * no script, form, iframe, object, event attributes or script URLs) and some non-whitespace
 * content (txt-2). Stored narrative is shown to every viewer, so this is also what keeps script
 * out of IDR's pages. See: https://hl7.org/fhir/R4/narrative.html#xhtml
 */

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

/** HTML 4.0 chapters 7–11 (without 9.4, ins/del) and 15, plus links and images. */
const ELEMENTS = new Set([
  'a', 'abbr', 'acronym', 'address', 'b', 'bdo', 'big', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup',
  'dd', 'dfn', 'div', 'dl', 'dt', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'kbd', 'li', 'ol', 'p', 'pre',
  'q', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'ul', 'var',
]);

/** Attributes any allowed element may carry. */
const COMMON_ATTRIBUTES = new Set(['id', 'class', 'style', 'title', 'lang', 'xml:lang', 'dir']);
const CELL = ['abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan', 'align', 'char', 'charoff', 'valign', 'nowrap', 'width', 'height', 'bgcolor'];
const ROW = ['align', 'char', 'charoff', 'valign', 'bgcolor'];
const COLUMN = ['span', 'width', 'align', 'char', 'charoff', 'valign'];
const BLOCK = ['align'];

/** Attributes allowed on particular elements, beyond the common ones. */
const ELEMENT_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  a: ['href', 'name', 'hreflang', 'type', 'rel', 'rev', 'charset', 'shape', 'coords'],
  img: ['src', 'alt', 'width', 'height', 'longdesc', 'border', 'align', 'hspace', 'vspace'],
  table: ['summary', 'width', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding', 'align', 'bgcolor'],
  td: CELL, th: CELL,
  tr: ROW, thead: ROW, tbody: ROW, tfoot: ROW,
  col: COLUMN, colgroup: COLUMN,
  q: ['cite'], blockquote: ['cite'],
  ol: ['start', 'type', 'compact'], ul: ['type', 'compact'], li: ['type', 'value'], dl: ['compact'],
  pre: ['width'], hr: ['align', 'noshade', 'size', 'width'], br: ['clear'], caption: ['align'],
  p: BLOCK, div: BLOCK, h1: BLOCK, h2: BLOCK, h3: BLOCK, h4: BLOCK, h5: BLOCK, h6: BLOCK,
};

/** Attributes holding a URL, whose scheme is checked. */
const URL_ATTRIBUTES = new Set(['href', 'src', 'cite', 'longdesc']);
const SAFE_SCHEMES = new Set(['http', 'https', 'mailto', 'tel', 'urn', 'ftp']);

/**
 * The narrative problems of one `div` value, each an error issue whose expression is `path`
 * (e.g. "Patient.text.div"); an empty array when the narrative is acceptable.
 */
export function narrativeIssues(div: unknown, path: string): OperationOutcomeIssue[] {
  if (typeof div !== 'string') return [issue(path, 'Narrative div must be a string of XHTML')];
  const problems: string[] = [];
  const add = (msg: string): void => {
    if (!problems.includes(msg)) problems.push(msg);
  };
  const parser = new SaxesParser({ xmlns: true, position: true });
  let depth = 0;
  let roots = 0;
  let hasContent = false;
  let rootInXhtml = false;
  parser.on('doctype', () => add('a DOCTYPE is not allowed'));
  parser.on('processinginstruction', (pi) => add(`the processing instruction <?${pi.target}?> is not allowed`));
  parser.on('text', (text) => {
    if (text.trim()) hasContent = true;
  });
  parser.on('cdata', (text) => {
    if (text.trim()) hasContent = true;
  });
  parser.on('opentag', (tag) => {
    if (depth === 0) {
      roots++;
      if (tag.local !== 'div') add(`the root element must be <div>, not <${tag.name}>`);
      rootInXhtml = tag.uri === XHTML_NS;
      if (!rootInXhtml) add(`the root <div> must be in the XHTML namespace (xmlns="${XHTML_NS}")`);
    } else if (rootInXhtml && tag.uri !== XHTML_NS) {
      add(`<${tag.name}> is not an XHTML element`);
    }
    depth++;
    const name = tag.local;
    if (!ELEMENTS.has(name)) add(`<${name}> is not allowed in narrative (only basic HTML formatting elements are)`);
    if (name === 'img') hasContent = true;
    for (const attr of Object.values(tag.attributes)) {
      const attrProblem = attributeProblem(name, attr.name, attr.prefix, attr.value);
      if (attrProblem) add(attrProblem);
    }
  });
  parser.on('closetag', () => {
    depth--;
  });
  try {
    parser.write(div).close();
  } catch (err) {
    return [issue(path, `Narrative is not well-formed XHTML: ${(err as Error).message}`)];
  }
  if (roots > 1) add('the narrative must have exactly one root <div>');
  if (!hasContent) add('the narrative must have some non-whitespace content (txt-2)');
  return problems.map((p) => issue(path, `Narrative XHTML: ${p}`));
}

function attributeProblem(element: string, name: string, prefix: string, value: string): string | undefined {
  if (name === 'xmlns' || prefix === 'xmlns') return undefined;
  const lower = name.toLowerCase();
  if (lower.startsWith('on')) return `event attribute ${name} on <${element}> is not allowed`;
  if (!COMMON_ATTRIBUTES.has(name) && !ELEMENT_ATTRIBUTES[element]?.includes(name)) return `attribute ${name} is not allowed on <${element}>`;
  if (URL_ATTRIBUTES.has(name) && !safeUrl(value, element === 'img' && name === 'src')) return `${name}="${value.slice(0, 60)}" on <${element}> is not an allowed URL`;
  if (name === 'style' && !safeStyle(value)) return `style on <${element}> may not run script or load anything but images`;
  return undefined;
}

/** Inline CSS without script hooks (expression(), behaviours, bindings, imports, script URLs); url() only for images. */
function safeStyle(css: string): boolean {
  const compact = [...css].filter((ch) => ch.charCodeAt(0) > 0x20).join('').toLowerCase();
  if (/expression\(|behavior:|-moz-binding|@import|javascript:|vbscript:/.test(compact)) return false;
  return [...css.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/gi)].every((m) => safeUrl(m[2] ?? '', true));
}

/** Relative URLs, fragments and the usual schemes; data: only for images. */
function safeUrl(value: string, image: boolean): boolean {
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
  const compact = [...value].filter((ch) => ch.charCodeAt(0) > 0x20).join('');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(compact)?.[1]?.toLowerCase();
  if (!scheme) return true;
  if (scheme === 'data') return image && /^data:image\/(png|gif|jpeg|jpg|webp|bmp);/i.test(compact);
  return SAFE_SCHEMES.has(scheme);
}

function issue(path: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'invalid', details: { text }, expression: [path] };
}

/**
 * The narrative problems of a resource: its own, its Composition sections', and those of every
 * resource inside it (contained resources, Bundle entries, Parameters), with FHIRPath-like
 * expressions such as "Patient.contained[0].text.div".
 */
export function resourceNarrativeIssues(resource: unknown, path?: string): OperationOutcomeIssue[] {
  const out: OperationOutcomeIssue[] = [];
  walk(resource, path ?? String((resource as { resourceType?: unknown })?.resourceType ?? 'Resource'), out);
  return out;
}

function walk(value: unknown, path: string, out: OperationOutcomeIssue[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, out));
    return;
  }
  if (!value || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  // Narrative: DomainResource.text and Composition.section.text (a `text` that is a string is not one).
  if (obj.text && typeof obj.text === 'object' && 'div' in obj.text) {
    out.push(...narrativeIssues((obj.text as { div: unknown }).div, `${path}.text.div`));
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key !== 'text' && v && typeof v === 'object') walk(v, `${path}.${key}`, out);
  }
}
