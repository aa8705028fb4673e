// Validates the catalog's AsyncAPI documents with the AsyncAPI initiative's own parser
// (@asyncapi/parser, installed from npm into tools/ by scripts/test.sh). Exit 1 when a
// document has an error-level diagnostic; warnings are printed.
// usage: node tests/api_documents.mjs FILE...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tools/package.json', import.meta.url));
const { Parser } = require('@asyncapi/parser');

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
    const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'), { source: file });
    const errors = diagnostics.filter((d) => d.severity === 0);
    for (const d of diagnostics) {
        const where = d.range ? `${d.range.start.line + 1}:${d.range.start.character + 1}` : '?';
        console.log(`${file}:${where}: ${d.severity === 0 ? 'error' : 'warning'} [${d.code}] ${d.message}`);
    }
    if (errors.length > 0 || document === undefined) {
        failed = true;
        console.log(`${file}: invalid AsyncAPI document`);
    } else {
        console.log(`${file}: valid AsyncAPI ${document.version()}`);
    }
}
process.exit(failed ? 1 : 0);
