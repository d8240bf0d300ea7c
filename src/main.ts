/** Page entry: defines the components; <vl-app> in index.html does the rest. */
import './protocol/jitless.ts';
import './ui/app.ts';

// The built page works offline after its first load (lecture halls have bad networks): the
// service worker (src/service-worker.ts, emitted as sw.js beside index.html by vite.config.ts)
// keeps the app shell. Relative, so it works wherever the page is deployed.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('./sw.js').catch(() => undefined);
  });
}
