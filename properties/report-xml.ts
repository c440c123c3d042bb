/**
 * A minimal XML well-formedness check for the report's SVG, JUnit and (XHTML-compatible) HTML output, so the tests
 * need no parser package: every tag closes in order, attributes are quoted, and text and attribute values contain no
 * raw '<' and no '&' outside a character or entity reference. Returns the list of elements (name, attributes, text
 * directly inside) for the tests to inspect.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  parent: XmlElement | null;
}

const ENTITY = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function checkText(s: string, where: string): void {
  const bare = s.replace(ENTITY, '');
  if (bare.includes('&') || bare.includes('<')) throw new Error(`unescaped markup in ${where}: ${JSON.stringify(s.slice(0, 80))}`);
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(s)) throw new Error(`control character in ${where}`);
}

export function unescapeXml(s: string): string {
  return s.replace(ENTITY, (m, e: string) =>
    e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
  );
}

export function parseXml(doc: string): XmlElement[] {
  const out: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let i = 0;
  const s = doc.replace(/^<\?xml[^?]*\?>/, '').replace(/^\s*<!DOCTYPE[^>]*>/i, '');
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const textEnd = lt < 0 ? s.length : lt;
    const text = s.slice(i, textEnd);
    checkText(text, `text near offset ${i}`);
    if (stack.length) stack[stack.length - 1].text += unescapeXml(text);
    else if (text.trim()) throw new Error(`text outside the root element: ${text.slice(0, 40)}`);
    if (lt < 0) break;
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = s.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const top = stack.pop();
      if (!top || top.name !== name) throw new Error(`</${name}> closes <${top?.name ?? 'nothing'}>`);
      continue;
    }
    const m = /^([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"]*")*)\s*(\/?)$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 80)}>`);
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([A-Za-z_:][\w:.-]*)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]}`);
      checkText(a[2], `attribute ${a[1]}`);
      attrs[a[1]] = unescapeXml(a[2]);
    }
    const el: XmlElement = { name: m[1], attrs, text: '', parent: stack[stack.length - 1] ?? null };
    if (!el.parent && out.length) throw new Error('more than one root element');
    out.push(el);
    if (!m[3]) stack.push(el);
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!out.length) throw new Error('no root element');
  return out;
}
