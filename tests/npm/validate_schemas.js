// Validates every shipped YAML file staff edit against its JSON Schema in schema/, with Ajv (an
// independent validator, not our C++ loader), and checks that deliberately broken files are
// rejected. Run from the repository root: `node tests/npm/validate_schemas.js`.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..', '..');
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validators = {};
for (const name of ['flow', 'prompts', 'intents', 'config', 'advocates', 'conversation-tests']) {
  const file = path.join(root, 'schema', `${name}.schema.json`);
  validators[name] = ajv.compile(JSON.parse(fs.readFileSync(file, 'utf8')));
}

let failures = 0;
function fail(message) {
  failures++;
  console.log(`FAIL ${message}`);
}

function parse(text, where) {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) throw new Error(`${where}: YAML: ${doc.errors[0].message}`);
  return doc.toJSON();
}

function validate(schema, data) {
  const ok = validators[schema](data);
  return ok ? [] : validators[schema].errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
}

// Shipped files, with the schema their first line must name (so editors find it).
const shipped = [
  ['flows/hotline.yaml', 'flow'],
  ['flows/intents.yaml', 'intents'],
  ['prompts/en.yaml', 'prompts'],
  ['prompts/es.yaml', 'prompts'],
  ['config/hotline.yaml', 'config'],
  ['config/advocates.yaml', 'advocates'],
];
const testsDir = path.join(root, 'flows', 'tests');
if (fs.existsSync(testsDir)) {
  for (const f of fs.readdirSync(testsDir).sort()) {
    if (/\.ya?ml$/.test(f)) shipped.push([`flows/tests/${f}`, 'conversation-tests']);
  }
}

for (const [relative, schema] of shipped) {
  const full = path.join(root, relative);
  const text = fs.readFileSync(full, 'utf8');
  const first = text.split('\n', 1)[0];
  const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
  if (!m) {
    fail(`${relative}: the first line must be "# yaml-language-server: $schema=…"`);
  } else if (path.resolve(path.dirname(full), m[1]) !== path.join(root, 'schema', `${schema}.schema.json`)) {
    fail(`${relative}: the first line names ${m[1]}, not schema/${schema}.schema.json`);
  }
  let errors;
  try {
    errors = validate(schema, parse(text, relative));
  } catch (e) {
    errors = [e.message];
  }
  if (errors.length) fail(`${relative} does not match schema/${schema}.schema.json:\n  ${errors.join('\n  ')}`);
  else console.log(`ok   ${relative}`);
}

// Broken files the schemas must reject (each with the reason a staff editor would see).
const broken = [
  ['flow', 'a misspelt field', 'flow: x\nstart: menu\nsteps:\n  menu:\n    sey: menu\n    end: true\n'],
  ['flow', 'a step with both go and end', 'flow: x\nstart: a\nsteps:\n  a:\n    go: a\n    end: true\n'],
  ['flow', 'a step that does nothing next', 'flow: x\nstart: a\nsteps:\n  a:\n    say: hello\n'],
  ['flow', 'intents on a step that does not wait', 'flow: x\nstart: a\nsteps:\n  a:\n    go: a\n    intents: {help: a}\n'],
  ['flow', 'a handoff to someone unknown', 'flow: x\nstart: a\nsteps:\n  a:\n    handoff: police\n    end: true\n'],
  ['flow', 'no steps', 'flow: x\nstart: a\n'],
  ['prompts', 'a key with capitals', 'Menu: Hello\n'],
  ['prompts', 'an empty text', 'menu: ""\n'],
  ['prompts', 'a voice wording without an sms one', 'menu:\n  voice: Press 1\n'],
  ['prompts', 'a misspelt variant', 'menu:\n  sms: Reply 1\n  voise: Press 1\n'],
  ['intents', 'phrases that are not a list', 'intents:\n  help:\n    en: help me\n'],
  ['intents', 'a language the hotline does not speak', 'intents:\n  help:\n    fr: [aidez-moi]\n'],
  ['config', 'a port that is not a number', 'server:\n  port: eighty\n'],
  ['config', 'an unknown language', 'default_language: fr\n'],
  ['config', 'a misspelt section', 'sesions:\n  idle_minutes: 5\n'],
  ['config', 'a misspelt limit', 'limits:\n  per_contact: 5\n'],
  ['config', 'a zero rate limit', 'limits:\n  global_per_second: 0\n'],
  ['advocates', 'a misspelt field', 'advocates:\n  - id: ana\n    phone: "+15550100001"\n    languages: [es]\n    langauges: [en]\n'],
  ['advocates', 'a phone without the country code', 'advocates:\n  - id: ana\n    phone: "4145550100"\n    languages: [es]\n'],
  ['advocates', 'an advocate without languages', 'advocates:\n  - id: ana\n    phone: "+15550100001"\n'],
  ['advocates', 'hours without a colon', 'advocates:\n  - id: ana\n    phone: "+15550100001"\n    languages: [es]\n    shifts:\n      - {days: mon, hours: "9-17"}\n'],
  ['advocates', 'an unknown day', 'advocates:\n  - id: ana\n    phone: "+15550100001"\n    languages: [es]\n    shifts:\n      - {days: monday, hours: "09:00-17:00"}\n'],
  ['conversation-tests', 'a misspelt field', '- test: x\n  turns:\n    - sned: hi\n'],
  ['conversation-tests', 'an unknown channel', '- test: x\n  channel: fax\n  turns:\n    - send: hi\n'],
  ['conversation-tests', 'a test without turns', '- test: x\n'],
];
for (const [schema, what, text] of broken) {
  const errors = validate(schema, parse(text, what));
  if (errors.length === 0) fail(`schema/${schema}.schema.json accepts ${what}`);
  else console.log(`ok   rejects ${schema}: ${what} (${errors[0]})`);
}

// The schemas must also reject a real shipped file once it is broken.
const flowText = fs.readFileSync(path.join(root, 'flows/hotline.yaml'), 'utf8').replace('    say: menu\n', '    sey: menu\n');
if (validate('flow', parse(flowText, 'edited flow')).length === 0) fail('the shipped flow with `sey:` is accepted');

if (failures) {
  console.log(`${failures} problem(s)`);
  process.exit(1);
}
console.log('all shipped files match their schemas');
