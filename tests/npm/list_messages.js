#!/usr/bin/env node
// Checks the fake Twilio's Messages list (tests/fake_twilio.hpp) two independent ways:
//  1. each page it served is validated with Ajv against ListMessageResponse in Twilio's own
//     OpenAPI description (formats included), and deliberately broken pages must be rejected;
//  2. the official `twilio` client lists the same messages from the fake, following its pages,
//     and prints what it read.
//
// stdin:  {"spec": "<path to twilio_api_v2010.json>", "base": "http://127.0.0.1:<port>",
//          "account": "AC…", "token": "…", "to": "+1…", "from": "+1…", "page_size": 2,
//          "pages": ["<a page's JSON text>", …]}
// stdout: {"schema_errors": ["page 0: /messages/0/sid must match pattern …", …],
//          "broken_accepted": ["what a broken page changed", …],
//          "listed": [{"sid", "to", "from", "body", "messagingServiceSid", "dateCreatedMs"}, …]}
'use strict';
const fs = require('fs');
const Ajv = require('ajv');
const twilio = require('twilio');

function readStdin() {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
  });
}

function listValidator(spec) {
  // The 200 answer of GET Messages.json, with the spec's components beside it so its
  // "#/components/schemas/…" references resolve.
  const list = spec.paths['/2010-04-01/Accounts/{AccountSid}/Messages.json'].get.responses['200']
    .content['application/json'].schema;
  // strict off: the spec carries vendor keywords (x-twilio) Ajv would refuse. Every format the
  // message schema names is defined below, so none is silently skipped.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  ajv.addFormat('date-time-rfc-2822', /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
  ajv.addFormat('phone-number', /^\+[1-9]\d{1,14}$/);
  // Twilio's own examples give paths ("/2010-04-01/…") where the spec says "uri".
  ajv.addFormat('uri', /^(https?:\/\/[^\s]+|\/[^\s]*)$/);
  ajv.addFormat('currency', /^[A-Za-z]{3}$/);
  ajv.addFormat('uri-map', true);
  return ajv.compile({ ...list, components: spec.components });
}

function errorsOf(validate, page) {
  if (validate(page)) return [];
  return validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
}

// Each turns a valid page into one the spec forbids.
const breakages = [
  ['an ISO 8601 date_created', (p) => (p.messages[0].date_created = '2026-03-11T15:00:00Z')],
  ['a short sid', (p) => (p.messages[0].sid = 'SM1000')],
  ['an unknown status', (p) => (p.messages[0].status = 'teleported')],
  ['a number for page_size', (p) => (p.page_size = '2')],
  ['messages that are not a list', (p) => (p.messages = {})],
  ['a to that is a number', (p) => (p.messages[0].to = 14145551234)],
];

async function main() {
  const input = JSON.parse(await readStdin());
  const spec = JSON.parse(fs.readFileSync(input.spec, 'utf8'));
  const validate = listValidator(spec);
  const out = { schema_errors: [], broken_accepted: [], listed: [] };

  input.pages.forEach((text, i) => {
    const page = JSON.parse(text);
    for (const e of errorsOf(validate, page)) out.schema_errors.push(`page ${i}: ${e}`);
    // Every field the spec describes for a message is there (the fake invents none and omits none).
    const described = Object.keys(spec.components.schemas['api.v2010.account.message'].properties).sort();
    for (const m of page.messages || []) {
      const given = Object.keys(m).sort();
      if (JSON.stringify(given) !== JSON.stringify(described)) {
        out.schema_errors.push(`page ${i}: message fields ${given} are not the spec's ${described}`);
      }
    }
  });
  const sample = input.pages[0];
  for (const [what, breakIt] of breakages) {
    const page = JSON.parse(sample);
    breakIt(page);
    if (errorsOf(validate, page).length === 0) out.broken_accepted.push(what);
  }

  // The official client, its requests sent to the fake instead of api.twilio.com.
  class ToTheFake extends twilio.RequestClient {
    request(opts) {
      return super.request({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, input.base) });
    }
  }
  const client = twilio(input.account, input.token, { httpClient: new ToTheFake() });
  const messages = await client.messages.list({ to: input.to, from: input.from, pageSize: input.page_size });
  out.listed = messages.map((m) => ({
    sid: m.sid,
    to: m.to,
    from: m.from,
    body: m.body,
    messagingServiceSid: m.messagingServiceSid,
    dateCreatedMs: m.dateCreated instanceof Date ? m.dateCreated.getTime() : null,
  }));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
