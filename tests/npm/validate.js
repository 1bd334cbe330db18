#!/usr/bin/env node
// Oracle for signature validation: what the official twilio library's validateRequest (or,
// with a body, validateRequestWithBody) says of each request.
//
// stdin: [{"token": "...", "signature": "...", "url": "...", "params": [["Key", "value"], ...],
//          "body": "..." (optional: then the JSON-body variant)}, ...]
// stdout: a JSON array of booleans, one per request.
"use strict";
const { validateRequest, validateRequestWithBody } = require("twilio");
const { toParams } = require("./sign.js");

function valid(c) {
  try {
    if (c.body !== undefined) return validateRequestWithBody(c.token, c.signature, c.url, c.body);
    return validateRequest(c.token, c.signature, c.url, toParams(c.params));
  } catch (e) {
    return false;  // `new URL()` throws on a URL it cannot parse: not valid
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(valid)) + "\n");
});
