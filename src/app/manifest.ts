import type { MetadataRoute } from 'next';

/**
 * The web app manifest (served at /manifest.webmanifest): what a phone needs
 * to put the device page on its home screen and open it as an app. Colours
 * are --accent and --bg of globals.css; the icons are drawn by
 * scripts/icons/render.ts.
 */
export default function manifest(): MetadataRoute.Manifest {
  return {
    name: 'Presence',
    short_name: 'Presence',
    description: 'Receive the notifications of your apps on this device.',
    id: '/device',
    start_url: '/device',
    scope: '/',
    display: 'standalone',
    theme_color: '#2f6fed',
    background_color: '#f7f8fa',
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  };
}
