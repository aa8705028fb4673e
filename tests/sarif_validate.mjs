// Validates SARIF files against the SARIF 2.1.0 JSON schema (the copy shipped in npm's
// @microsoft/jest-sarif, installed into tools/ by scripts/test.sh) with ajv. Exit 1 on the
// first invalid file, printing every schema error.
// usage: node tests/sarif_validate.mjs FILE...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tools/package.json', import.meta.url));
// The SARIF 2.1.0 schema is written in JSON Schema draft 04.
const Ajv = require('ajv-draft-04');
const addFormats = require('ajv-formats');
const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

// unicodeRegExp off: one pattern of the published schema is not valid under the u flag.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);
let failed = false;
for (const file of process.argv.slice(2)) {
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    if (validate(doc)) {
        console.log(`${file}: valid SARIF ${doc.version} (${doc.runs[0].results.length} results)`);
        continue;
    }
    failed = true;
    for (const e of validate.errors) console.log(`${file}: ${e.instancePath || '/'} ${e.message}`);
}
process.exit(failed ? 1 : 0);
