// Size of the client library (and of the whole app) minified and gzipped. esbuild (a dev
// dependency) minifies for the measurement only: what is served is the readable source.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(web, '..', 'target');

async function minified(entry, loader) {
  const r = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', write: false, target: 'es2022', loader, logLevel: 'silent' });
  return r.outputFiles[0].contents;
}
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const lib = join(web, 'lib', 'chat-client.js');
const libMin = await minified(lib);
const appMin = await minified(join(web, 'app', 'app.js'));
const cssMin = await minified(join(web, 'app', 'style.css'));
const html = readFileSync(join(web, 'app', 'index.html'));
const figures = {
  library: { source: readFileSync(lib).length, minified: libMin.length, minifiedGzip: gz(libMin) },
  app: {
    jsMinifiedGzip: gz(appMin), // app.js with the library bundled in
    cssMinifiedGzip: gz(cssMin),
    htmlGzip: gz(html),
    totalMinifiedGzip: gz(appMin) + gz(cssMin) + gz(html),
  },
};
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'web-size.json'), JSON.stringify(figures, null, 2));
console.log(
  `chat-client.js: ${kb(figures.library.source)} source, ${kb(figures.library.minified)} minified, ${kb(figures.library.minifiedGzip)} minified+gzip; ` +
    `the whole app (js+css+html): ${kb(figures.app.totalMinifiedGzip)} minified+gzip`,
);
