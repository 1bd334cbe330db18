#!/usr/bin/env node
// Oracle for TwiML: renders a description of verbs with the official twilio library.
//
// stdin: {"response": "voice" | "messaging",
//         "verbs": [ {"verb": "Gather",
//                     "attrs": [["input", "dtmf speech"], ["numDigits", "1"]],
//                     "text": "optional text content",
//                     "children": [ {"verb": "Say", "attrs": [...], "text": "..."} ]}, ... ]}
//        -> prints the document (no trailing newline is added by the library; we add one).
// stdin: [ {...}, {...} ]  -> prints a JSON array of documents (they may contain newlines).
//
// Each verb is added through the library's own method for it (Gather -> .gather(), Number ->
// .number(), ...), exactly as application code would, so the output is what the library
// renders for that verb. A verb the parent has no method for is an error (exit 2), which
// catches typos in the C++ test's tables. attrs are pairs to keep their order.
"use strict";
const twilio = require("twilio");

function methodName(verb) {
  return verb.charAt(0).toLowerCase() + verb.slice(1);
}

function add(parent, v) {
  const method = methodName(v.verb);
  if (typeof parent[method] !== "function") {
    throw new Error(`${parent.constructor.name} has no method ${method}() for <${v.verb}>`);
  }
  const attrs = {};
  for (const [name, value] of v.attrs || []) attrs[name] = value;
  const node = v.text === undefined ? parent[method](attrs) : parent[method](attrs, v.text);
  for (const child of v.children || []) add(node, child);
}

function render(doc) {
  const response =
    doc.response === "messaging" ? new twilio.twiml.MessagingResponse() : new twilio.twiml.VoiceResponse();
  for (const v of doc.verbs || []) add(response, v);
  return response.toString();
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  try {
    const request = JSON.parse(input);
    if (Array.isArray(request)) process.stdout.write(JSON.stringify(request.map(render)) + "\n");
    else process.stdout.write(render(request) + "\n");
  } catch (e) {
    process.stderr.write(`twiml.js: ${e.message}\n`);
    process.exit(2);
  }
});
