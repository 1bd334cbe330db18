#!/usr/bin/env node
// The usual way to answer Twilio SMS webhooks in Node.js, as Twilio's own tutorials write it:
// Express, express.urlencoded(), the twilio helper's webhook() middleware to check
// X-Twilio-Signature, a MessagingResponse for the TwiML, and the conversation kept in memory
// (a Map keyed by the sender, which is what the tutorials' express-session cookie amounts to
// for SMS, where there are no cookies). One process, as in the tutorials.
//
// It does the same job as the hotline's /twilio/sms, smaller: a keyword match picks one of a
// few answers, a menu number picks an answer, the session remembers the language and the step.
//
// Environment: TWILIO_AUTH_TOKEN (required), HOTLINE_PUBLIC_URL (the URL Twilio calls, which
// the signature covers), PORT (default 8082).
"use strict";
const express = require("express");
const twilio = require("twilio");

const port = Number(process.env.PORT || 8082);
const publicUrl = (process.env.HOTLINE_PUBLIC_URL || "").replace(/\/+$/, "");
if (!process.env.TWILIO_AUTH_TOKEN || !publicUrl) {
  console.error("set TWILIO_AUTH_TOKEN and HOTLINE_PUBLIC_URL");
  process.exit(2);
}

const answers = {
  es: {
    menu: "Dudas sobre llamar a la policía de Milwaukee. Responda con un número:\n1 ¿Puedo llamar?\n2 ¿Reportan mi estatus?\n3 Quejas\n4 ¿Qué cambió?\n5 Estrés\n0 Una persona\nEmergencia: 911",
    call_police: "Defensores de inmigrantes en Milwaukee recomiendan llamar a la policía si es víctima o testigo de un delito; se restableció la política anterior. Peligro: 911. No es asesoría legal. 0: una persona.",
    status: "Con la política restablecida, la policía aún puede reportar el estatus a DHS en algunos casos, pero antes el agente debe consultar a su comandante de turno. No es asesoría legal. 0: una persona.",
    complaint: "Puede presentar una queja ante la Comisión de Bomberos y Policía. No es asesoría legal. 0: una persona.",
    policy: "La política anterior se restableció. No es asesoría legal. 0: una persona.",
    support: "No está solo. 0: una persona. Peligro: 911.",
    thanks: "De nada. Cuídese mucho. Escriba MENU cuando quiera, o 0 para hablar con una persona.",
  },
  en: {
    menu: "Questions about calling Milwaukee police. Reply with a number:\n1 Can I call?\n2 Do they report my status?\n3 Complaints\n4 What changed?\n5 Stress\n0 A person\nEmergency: 911",
    call_police: "Immigrant advocates in Milwaukee recommend calling police if you are a victim or witness of a crime; the earlier policy is back. Danger: 911. Not legal advice. 0: a person.",
    status: "With the policy restored, police may still report status to DHS in some cases, but the officer must first check with the shift commander. Not legal advice. 0: a person.",
    complaint: "You can file a complaint with the Fire and Police Commission. Not legal advice. 0: a person.",
    policy: "The earlier policy has been restored. Not legal advice. 0: a person.",
    support: "You are not alone. 0: a person. Danger: 911.",
    thanks: "You're welcome. Take care. Text MENU any time, or 0 to talk to a person.",
  },
};
const menuNumbers = { 1: "call_police", 2: "status", 3: "complaint", 4: "policy", 5: "support" };
const keywords = [
  [/\b(polic[ií]a|police|call|llamar)\b/i, "call_police"],
  [/\b(status|estatus|ice|dhs|migra)\b/i, "status"],
  [/\b(complaint|queja)/i, "complaint"],
  [/\b(changed|cambi)/i, "policy"],
  [/\b(thanks|thank you|gracias)\b/i, "thanks"],
  [/\b(menu|hola|hello|hi)\b/i, "menu"],
];
const spanish = /[áéíóúñ¿¡]|\b(hola|puedo|gracias|policia|llamar|que)\b/i;

const sessions = new Map(); // From -> { lang, step, turns, updated }
const idleMs = 60 * 60 * 1000;

const app = express();
app.use(express.urlencoded({ extended: false }));

app.post("/twilio/sms", twilio.webhook({ url: publicUrl + "/twilio/sms" }), (req, res) => {
  const from = req.body.From;
  const text = String(req.body.Body || "").trim();
  const now = Date.now();
  let session = sessions.get(from);
  if (!session || now - session.updated > idleMs) session = { lang: null, step: "start", turns: 0 };
  if (!session.lang) session.lang = spanish.test(text) || !/[a-z]/i.test(text) ? "es" : "en";

  let key = menuNumbers[text];
  if (!key) key = (keywords.find(([re]) => re.test(text)) || [null, "menu"])[1];
  session.step = key;
  session.turns += 1;
  session.updated = now;
  sessions.set(from, session);

  const twiml = new twilio.twiml.MessagingResponse();
  twiml.message(answers[session.lang][key]);
  res.type("text/xml").send(twiml.toString());
});

app.get("/healthz", (req, res) => res.type("text/plain").send("ok\n"));

app.listen(port, "127.0.0.1", () => console.log(`express peer listening on 127.0.0.1:${port}`));
