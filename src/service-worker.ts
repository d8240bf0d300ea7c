/**
 * The page's service worker (built by vite.config.ts into sw.js beside index.html): the app
 * shell (index.html, the scripts, the worker, the styles) is cached at install, so the page
 * loads and runs with no network after its first visit. Hashed assets are served from the
 * cache; the page itself is fetched from the network first, so a new deploy is seen when
 * online, and from the cache when not. Paths are relative to this file, so any sub-path works.
 */
export {};
const sw = self as unknown as ServiceWorkerGlobalScope;
/** The build's files, relative to sw.js; './' is the page. Set by the build. */
declare const PRECACHE: readonly string[];
/** Changes with every build whose files change, so an update replaces the old cache. */
declare const CACHE_NAME: string;

const shellUrl = new URL('./', sw.location.href).href;

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      await cache.addAll(PRECACHE.map((p) => new URL(p, sw.location.href).href));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith('vramlab-') && key !== CACHE_NAME) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== sw.location.origin) return;
  if (request.mode === 'navigate') {
    // The page's state lives in its query (?b=8&p=…): any query gets the one cached page.
    event.respondWith(fetch(request).catch(async () => (await caches.match(request, { ignoreSearch: true })) ?? (await caches.match(shellUrl)) ?? Response.error()));
    return;
  }
  event.respondWith(caches.match(request).then((hit) => hit ?? fetch(request)));
});
