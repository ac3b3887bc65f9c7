import { describe, expect, it } from 'vitest';
import { narrativeIssues, resourceNarrativeIssues } from './narrative.ts';

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';
const texts = (div: unknown): string[] => narrativeIssues(div, 'Patient.text.div').map((i) => i.details?.text ?? '');

describe('narrative XHTML (txt-1, txt-2)', () => {
  it('accepts basic formatting, tables, links, images and plain XML entities', () => {
    const div = `<div ${NS}><h3 style="color: red">Uitslag</h3><p>Hb &lt; 7 &amp; <b>dalend</b><br/>zie <a href="https://example.org/x#y">link</a></p>`
      + `<table class="grid"><thead><tr><th colspan="2">a</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>`
      + `<img src="#pic" alt="scan"/><ul><li>één</li></ul><span xml:lang="nl" lang="nl">tekst</span></div>`;
    expect(texts(div)).toEqual([]);
  });

  it('refuses script, forms, frames, objects and event attributes', () => {
    expect(texts(`<div ${NS}><p>x</p><script>alert(1)</script></div>`)).toEqual(['Narrative XHTML: <script> is not allowed in narrative (only basic HTML formatting elements are)']);
    expect(texts(`<div ${NS}><p onclick="alert(1)">x</p></div>`)).toEqual(['Narrative XHTML: event attribute onclick on <p> is not allowed']);
    for (const tag of ['form', 'iframe', 'object', 'embed', 'style', 'input', 'button', 'body']) {
      expect(texts(`<div ${NS}>x<${tag}/></div>`)[0], tag).toContain(`<${tag}> is not allowed`);
    }
  });

  it('refuses script URLs, also when disguised', () => {
    expect(texts(`<div ${NS}><a href="javascript:alert(1)">x</a></div>`)[0]).toContain('is not an allowed URL');
    expect(texts(`<div ${NS}><a href=" java&#9;script:alert(1)">x</a></div>`)[0]).toContain('is not an allowed URL');
    expect(texts(`<div ${NS}><a href="data:text/html,x">x</a></div>`)[0]).toContain('is not an allowed URL');
    expect(texts(`<div ${NS}><img src="data:image/png;base64,AAAA"/></div>`)).toEqual([]);
    expect(texts(`<div ${NS}><p style="background: url(javascript:alert(1))">x</p></div>`)[0]).toContain('may not run script');
    expect(texts(`<div ${NS}><p style="width: expression(alert(1))">x</p></div>`)[0]).toContain('may not run script');
    expect(texts(`<div ${NS}><p style="background: url('data:text/html,x')">x</p></div>`)[0]).toContain('may not run script');
    expect(texts(`<div ${NS}><td style="padding: 0; background-image: url(data: image/png;base64,iVBORw0KGgo=)">x</td></div>`)).toEqual([]);
  });

  it('requires the XHTML namespace on one root div', () => {
    expect(texts('<div><p>x</p></div>')).toEqual(['Narrative XHTML: the root <div> must be in the XHTML namespace (xmlns="http://www.w3.org/1999/xhtml")']);
    expect(texts(`<p ${NS}>x</p>`)).toEqual(['Narrative XHTML: the root element must be <div>, not <p>']);
    expect(texts(`<div ${NS}>x</div><div ${NS}>y</div>`)[0]).toContain('not well-formed');
    expect(texts(`<div ${NS}><svg xmlns="http://www.w3.org/2000/svg">x</svg></div>`)[0]).toContain('<svg> is not an XHTML element');
  });

  it('requires well-formed XML with XML entities only', () => {
    expect(texts(`<div ${NS}><p>x</div>`)[0]).toContain('not well-formed');
    expect(texts(`<div ${NS}>a&nbsp;b</div>`)[0]).toContain('not well-formed');
    expect(texts(5)).toEqual(['Narrative div must be a string of XHTML']);
  });

  it('requires non-whitespace content (txt-2)', () => {
    expect(texts(`<div ${NS}>  <p> </p></div>`)).toEqual(['Narrative XHTML: the narrative must have some non-whitespace content (txt-2)']);
    expect(texts(`<div ${NS}><img src="#a"/></div>`)).toEqual([]);
  });

  it('checks contained resources and names each path', () => {
    const patient = {
      resourceType: 'Patient',
      text: { status: 'generated', div: `<div ${NS}>ok</div>` },
      contained: [{ resourceType: 'Organization', id: 'o', text: { status: 'generated', div: `<div ${NS}><p onmouseover="x()">hi</p></div>` } }],
    };
    const issues = resourceNarrativeIssues(patient);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Patient.contained[0].text.div']);
  });

  it('checks Composition sections, whose narrative is shown like any other', () => {
    const composition = { resourceType: 'Composition', section: [{ title: 'Beleid', text: { status: 'generated', div: `<div ${NS}><iframe/>x</div>` } }] };
    expect(resourceNarrativeIssues(composition).map((i) => i.expression?.[0])).toEqual(['Composition.section[0].text.div']);
  });
});
