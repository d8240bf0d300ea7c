/**
 * Imported first by the page and the engine worker: zod parses without generating code. zod 4
 * otherwise probes once for eval (`new Function('')`) and compiles object parsers when allowed;
 * under the page's CSP (no 'unsafe-eval') the probe is refused and reported as a CSP violation on
 * every load. The CLI (Node, no CSP) keeps the faster compiled parsers.
 * https://zod.dev/api#jitless
 */
import { z } from 'zod';

z.config({ jitless: true });
