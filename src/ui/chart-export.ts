/**
 * A chart as a file: the SVG with the colours it is drawn in, or a PNG of it. Charts colour
 * themselves with CSS custom properties inside their shadow roots, which a saved SVG would
 * lose, so each element's computed paint and text styles are written onto its copy as a
 * `style` attribute. The PNG is that SVG drawn onto a canvas through an <img> (a data: URL,
 * which the page's CSP allows for images) at twice the size for sharp text.
 */
import { downloadBlob } from './download.ts';

/** The computed properties that decide how an SVG element looks once taken out of the page. */
const INLINED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'stroke-opacity',
  'stroke-linejoin',
  'paint-order',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'visibility',
] as const;

const PNG_SCALE = 2;

/** A standalone copy of `svg`: computed styles inlined, explicit size, the page background behind it. */
export function serializeSvg(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const from = [svg, ...svg.querySelectorAll('*')];
  const to = [copy, ...copy.querySelectorAll('*')];
  from.forEach((el, i) => {
    const cs = getComputedStyle(el);
    // Through the CSSOM, which the page's CSP allows (a style attribute set as text it refuses);
    // the serializer writes the same style attribute.
    const style = (to[i] as SVGElement | HTMLElement).style;
    for (const p of INLINED) style.setProperty(p, cs.getPropertyValue(p));
  });
  const box = svg.getBoundingClientRect();
  const [, , vw, vh] = (svg.getAttribute('viewBox') ?? `0 0 ${box.width} ${box.height}`).split(/\s+/).map(Number);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  copy.setAttribute('width', String(vw ?? box.width));
  copy.setAttribute('height', String(vh ?? box.height));
  copy.removeAttribute('part');
  copy.removeAttribute('data-testid');
  // The page colour behind the chart, so dark-theme text stays readable in a viewer with a white background.
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', pageBackground(svg));
  copy.insertBefore(bg, copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

/** The first opaque background above `el`, through shadow roots; white if none. */
function pageBackground(el: Element): string {
  for (let n: Node | null = el; n; n = n.parentNode ?? (n instanceof ShadowRoot ? n.host : null)) {
    if (n instanceof Element) {
      const c = getComputedStyle(n).backgroundColor;
      if (c && c !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(c)) return c;
    }
  }
  return '#ffffff';
}

/** Saves the chart as `<name>.svg`. */
export function exportSvg(svg: SVGSVGElement, name: string): void {
  downloadBlob(new Blob([serializeSvg(svg)], { type: 'image/svg+xml' }), `${name}.svg`);
}

/** The chart as PNG bytes (twice its drawn size). Rejects if the browser cannot draw it. */
export async function svgToPng(svg: SVGSVGElement): Promise<Blob> {
  const text = serializeSvg(svg);
  const img = new Image();
  img.decoding = 'async';
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(img.naturalWidth * PNG_SCALE));
  canvas.height = Math.max(1, Math.round(img.naturalHeight * PNG_SCALE));
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot draw on a canvas, so the PNG cannot be made; save the SVG instead');
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The PNG could not be encoded; save the SVG instead'))), 'image/png'),
  );
}

/** Saves the chart as `<name>.png`. */
export async function exportPng(svg: SVGSVGElement, name: string): Promise<void> {
  downloadBlob(await svgToPng(svg), `${name}.png`);
}
