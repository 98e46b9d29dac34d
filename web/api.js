// The admin token, JSON requests, and the live stream (GET /v1/stream).
//
// The token is asked for once and kept in sessionStorage (gone when the tab
// closes); it travels only in the Authorization header, never in a URL. The
// stream is read with fetch() and a ReadableStream parser because EventSource
// cannot send headers.
import { $, sleep } from './util.js';

const KEY = 'vigil.admin_token';
let waiting = null; // the pending token prompt, shared by every caller

export const token = () => sessionStorage.getItem(KEY) || '';

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

async function tokenWorks(t) {
  const r = await fetch('/v1/groups', { headers: { Authorization: 'Bearer ' + t }, cache: 'no-store' });
  if (r.status === 401) return false;
  return true; // 200, or a store hiccup (503): the token itself was accepted
}

// Show the token form and resolve once a token vigild accepts was entered.
export function askToken(why) {
  if (waiting) return waiting;
  const box = $('#token-box'), form = $('#token-form'), input = $('#token-input'), err = $('#token-err');
  err.textContent = why || '';
  box.hidden = false;
  input.value = '';
  input.focus();
  waiting = new Promise((resolve) => {
    const submit = async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      err.textContent = 'checking…';
      let ok = false;
      try {
        ok = await tokenWorks(t);
      } catch (e) {
        err.textContent = 'vigild did not answer: ' + e.message;
        return;
      }
      if (!ok) {
        err.textContent = 'vigild refused this token.';
        input.select();
        return;
      }
      sessionStorage.setItem(KEY, t);
      form.removeEventListener('submit', submit);
      box.hidden = true;
      err.textContent = '';
      waiting = null;
      resolve(t);
    };
    form.addEventListener('submit', submit);
  });
  return waiting;
}

export async function ensureToken() {
  if (!token()) await askToken('');
  return token();
}

export class HttpError extends Error {
  constructor(status, body) {
    super(body?.error ? `${status}: ${body.error.field} ${body.error.reason}` : 'HTTP ' + status);
    this.status = status;
    this.body = body;
  }
}

// GET (or other method) a JSON answer; a 401 asks for the token again and retries.
export async function api(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const t = await ensureToken();
    const r = await fetch(path, {
      method: opts.method || 'GET',
      headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' },
      cache: 'no-store',
      signal: opts.signal,
    });
    if (r.status === 401 && attempt < 3) {
      if (token() === t) forgetToken();
      await askToken('vigild refused the token; enter it again.');
      continue;
    }
    let body = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    if (!r.ok) throw new HttpError(r.status, body);
    return body;
  }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? '?' + s : '';
}

// ---- Server-Sent Events over fetch -------------------------------------------

// Incremental text/event-stream parser (the WHATWG rules: lines end in CR, LF
// or CRLF; "field: value"; a blank line dispatches; ":" starts a comment).
export class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.parts = [];
    this.cr = false; // the previous chunk ended in CR: a following LF belongs to it
    this.reset();
    this.lastId = null;
  }

  reset() {
    this.data = [];
    this.event = '';
  }

  feed(chunk) {
    let s = 0;
    if (this.cr && chunk.charCodeAt(0) === 10) s = 1;
    this.cr = false;
    let nl = -2, cr = -2;
    while (s <= chunk.length) {
      if (nl !== -1 && nl < s) nl = chunk.indexOf('\n', s);
      if (cr !== -1 && cr < s) cr = chunk.indexOf('\r', s);
      const i = nl < 0 ? cr : cr < 0 ? nl : Math.min(nl, cr);
      if (i < 0) {
        if (s < chunk.length) this.parts.push(chunk.slice(s));
        return;
      }
      this.parts.push(chunk.slice(s, i));
      const line = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
      this.parts = [];
      this.line(line);
      if (i === cr) {
        if (i + 1 === chunk.length) {
          this.cr = true;
          return;
        }
        s = chunk.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
      } else {
        s = i + 1;
      }
    }
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onMessage(this.event || 'message', this.data.join('\n'), this.lastId);
      this.reset();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment (keep-alive)
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

// Keep GET /v1/stream open for as long as the page lives: reconnect with the
// last id seen (Last-Event-ID) and an exponential backoff with jitter.
// handlers: {message(type, obj, id), status(state, detail)}.
export async function runStream(handlers) {
  const IDLE_MS = 45000; // vigild sends ": keep-alive" every 15 s
  let lastId = null, backoff = 1000;
  for (;;) {
    const t = await ensureToken();
    const ctl = new AbortController();
    let idle = 0, got = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(), IDLE_MS);
    };
    try {
      handlers.status('connecting');
      const headers = { Authorization: 'Bearer ' + t, Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      arm();
      const r = await fetch('/v1/stream', { headers, cache: 'no-store', signal: ctl.signal });
      if (r.status === 401) {
        clearTimeout(idle);
        if (token() === t) forgetToken();
        await askToken('vigild refused the token; enter it again.');
        continue;
      }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      handlers.status('live');
      const parser = new SseParser((type, data, id) => {
        got = true;
        lastId = id;
        let obj;
        try {
          obj = JSON.parse(data);
        } catch {
          return;
        }
        handlers.message(type, obj, id);
      });
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.feed(dec.decode(value, { stream: true }));
      }
      if (parser.retry) backoff = Math.max(500, parser.retry);
    } catch (e) {
      handlers.status('down', e.name === 'AbortError' ? 'no data for 45 s' : e.message);
    } finally {
      clearTimeout(idle);
    }
    if (got) backoff = 1000;
    const wait = backoff * (0.75 + Math.random() * 0.5);
    handlers.status('retry', Math.round(wait / 1000));
    await sleep(wait);
    backoff = Math.min(backoff * 2, 30000);
  }
}
