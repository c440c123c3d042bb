import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Glue between the report's Vega-Lite figures (figures.ts) and the SVG files: compile with vega-lite, render with a
 * headless vega View (no browser, no canvas: Vega then estimates text widths generously), and make the SVG safe to
 * inline several times in one HTML page and readable without scripts: ids get a per-figure prefix (so one figure's
 * clip path cannot clip another's marks), and each mark's accessible description (Vega-Lite writes the tooltip
 * fields there) also becomes an SVG <title>, which browsers show as the tooltip of a static SVG.
 */

export function escapeXml(s: string): string {
  // Characters XML 1.0 forbids (C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF) cannot be
  // escaped, only replaced; a label built from user text must still give a well-formed document.
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Render a Vega-Lite spec to a standalone SVG document. `idPrefix` makes its element ids unique in a page. */
export async function renderVegaLite(spec: Record<string, unknown>, idPrefix: string): Promise<string> {
  const { spec: vg } = compile(spec as unknown as TopLevelSpec);
  const view = new vega.View(vega.parse(vg), { renderer: 'none', logLevel: vega.Warn });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const prefix = idPrefix.replace(/[^A-Za-z0-9_-]/g, '_');
  // Vega numbers clip paths per process (clip29): renumber per figure, so a figure's SVG does not depend on how many
  // were rendered before it.
  const ids = new Map<string, string>();
  const idOf = (id: string) => ids.get(id) ?? (ids.set(id, `${prefix}-${ids.size + 1}`), ids.get(id)!);
  svg = svg.replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${idOf(id)}"`).replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${idOf(id)})`);
  // <path aria-label="x: 7.4; error: 0.02" ... role="graphics-symbol" .../>: the label as a tooltip too.
  svg = svg.replace(/<path aria-label="([^"]*)"( role="graphics-symbol" aria-roledescription="point"[^>]*?)\/>/g, (_, label: string, rest: string) =>
    `<path aria-label="${label}"${rest}><title>${label}</title></path>`);
  return svg.endsWith('\n') ? svg : `${svg}\n`;
}
