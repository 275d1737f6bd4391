/**
 * Draws Presence's icons (the brand's dot with a ring, as on the pages) and
 * writes the files the pages and the web app manifest name: the favicon as
 * SVG and ICO, the apple-touch-icon, and the home-screen icons. The PNGs are
 * rendered by Chromium and committed; run this again after changing a colour:
 *
 *   node --import tsx scripts/icons/render.ts
 */
import { writeFile } from 'node:fs/promises';
import { chromium } from '@playwright/test';

/** --accent of src/app/globals.css, the theme colour of src/app/manifest.ts. */
const ACCENT = '#2f6fed';

/** The small mark on a transparent ground: the favicon, in tabs and bookmarks. */
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
  <circle cx="32" cy="32" r="30" fill="${ACCENT}" fill-opacity="0.22"/>
  <circle cx="32" cy="32" r="17" fill="${ACCENT}"/>
</svg>
`;

/**
 * A home-screen icon: a white dot and ring on the accent colour. `bleed`
 * fills the whole square (maskable icons and iOS, which cut their own
 * shape); the ring stays inside the central 80 % that a mask keeps.
 */
function appIconSvg(size: number, bleed: boolean): string {
  const ground = bleed ? `<rect width="512" height="512" fill="${ACCENT}"/>` : `<rect width="512" height="512" rx="112" fill="${ACCENT}"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 512 512">
  ${ground}
  <circle cx="256" cy="256" r="172" fill="#ffffff" fill-opacity="0.24"/>
  <circle cx="256" cy="256" r="100" fill="#ffffff"/>
</svg>`;
}

function sizedFavicon(size: number): string {
  return FAVICON_SVG.replace('viewBox=', `width="${size}" height="${size}" viewBox=`);
}

/** An ICO file holding PNG images (the format browsers have read since 2007), one per size. */
function icoOf(images: { size: number; png: Buffer }[]): Buffer {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // 1: icon
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, i) => {
    const entry = 6 + 16 * i;
    header.writeUInt8(size % 256, entry); // 0 means 256
    header.writeUInt8(size % 256, entry + 1);
    header.writeUInt16LE(1, entry + 4); // colour planes
    header.writeUInt16LE(32, entry + 6); // bits per pixel
    header.writeUInt32LE(png.length, entry + 8);
    header.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((image) => image.png)]);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
const page = await browser.newPage({ deviceScaleFactor: 1 });

/** Chromium's rendering of an SVG at exactly size × size pixels, transparent where the SVG draws nothing. */
async function renderPng(svg: string, size: number): Promise<Buffer> {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
  return page.locator('svg').screenshot({ omitBackground: true });
}

const root = new URL('../../', import.meta.url);
const out = (path: string) => new URL(path, root);

await writeFile(out('src/app/icon.svg'), FAVICON_SVG);
const favicons = [];
for (const size of [16, 32, 48]) favicons.push({ size, png: await renderPng(sizedFavicon(size), size) });
await writeFile(out('src/app/favicon.ico'), icoOf(favicons));
await writeFile(out('src/app/apple-icon.png'), await renderPng(appIconSvg(180, true), 180));
await writeFile(out('public/icons/icon-192.png'), await renderPng(appIconSvg(192, false), 192));
await writeFile(out('public/icons/icon-512.png'), await renderPng(appIconSvg(512, false), 512));
await writeFile(out('public/icons/icon-maskable-512.png'), await renderPng(appIconSvg(512, true), 512));
await browser.close();
