#!/usr/bin/env node
// Oracle for X-Twilio-Signature: prints what the official twilio library computes.
//
// stdin: {"token": "...", "url": "...", "params": [["Key", "value"], ...]}
//        -> prints the signature and a newline.
// stdin: [ {...}, {...} ]   (a batch, so the C++ test pays Node's start-up once)
//        -> prints a JSON array of signatures.
//
// params is a list of pairs, not an object, so a test can send a repeated key; it is turned
// into the object the library takes, with an array value for a repeated key (the library
// signs each distinct value of an array, sorted).
"use strict";
const { getExpectedTwilioSignature } = require("twilio");

function toParams(pairs) {
  // No prototype, so a key like "__proto__" or "constructor" is an ordinary key.
  const params = Object.create(null);
  for (const [key, value] of pairs || []) {
    if (!(key in params)) params[key] = value;
    else if (Array.isArray(params[key])) params[key].push(value);
    else params[key] = [params[key], value];
  }
  return params;
}

function sign(c) {
  return getExpectedTwilioSignature(c.token, c.url, toParams(c.params));
}

module.exports = { toParams };  // validate.js builds the library's params the same way

if (require.main === module) {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (input += chunk));
  process.stdin.on("end", () => {
    const request = JSON.parse(input);
    if (Array.isArray(request)) process.stdout.write(JSON.stringify(request.map(sign)) + "\n");
    else process.stdout.write(sign(request) + "\n");
  });
}
