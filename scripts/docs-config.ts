// `npm run docs:config`: writes the README's configuration tables from the config schema (server/config.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigTables } from '../server/configDocs.ts';

const file = new URL('../README.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = withConfigTables(before);
if (after === before) console.log('README.md: the configuration tables are up to date');
else {
  writeFileSync(file, after);
  console.log('README.md: configuration tables rewritten');
}
