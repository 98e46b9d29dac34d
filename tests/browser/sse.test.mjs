// The dashboard's text/event-stream parser (web/api.js SseParser), fed in
// every way a network can cut a stream: node's test runner, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../web/api.js';

function parse(chunks) {
  const got = [];
  const p = new SseParser((type, data, id) => got.push({ type, data, id }));
  for (const c of chunks) p.feed(c);
  return { got, p };
}

const STREAM = 'id: 7-1\nevent: snapshot\ndata: {"a":1}\n\n: keep-alive\n\nid: 7-2\nevent: worker\ndata: {"b":2}\n\n';
const WANT = [
  { type: 'snapshot', data: '{"a":1}', id: '7-1' },
  { type: 'worker', data: '{"b":2}', id: '7-2' },
];

test('whole stream, one chunk', () => {
  assert.deepEqual(parse([STREAM]).got, WANT);
});

test('every split point, and one byte at a time', () => {
  for (let i = 0; i <= STREAM.length; i++) assert.deepEqual(parse([STREAM.slice(0, i), STREAM.slice(i)]).got, WANT, `split at ${i}`);
  assert.deepEqual(parse([...STREAM]).got, WANT);
});

test('CRLF and CR line ends, CRLF split across chunks', () => {
  const crlf = STREAM.replace(/\n/g, '\r\n');
  assert.deepEqual(parse([crlf]).got, WANT);
  for (let i = 0; i <= crlf.length; i++) assert.deepEqual(parse([crlf.slice(0, i), crlf.slice(i)]).got, WANT, `split at ${i}`);
  assert.deepEqual(parse([STREAM.replace(/\n/g, '\r')]).got, WANT);
});

test('multi-line data, no space after the colon, default type, id kept', () => {
  const { got } = parse(['id:9\ndata:one\ndata: two\n\ndata: three\n\n']);
  assert.deepEqual(got, [
    { type: 'message', data: 'one\ntwo', id: '9' },
    { type: 'message', data: 'three', id: '9' },
  ]);
});

test('comments and empty blocks dispatch nothing; retry is read', () => {
  const { got, p } = parse([': hi\n\n\n\nretry: 2500\n\nevent: x\n\n']);
  assert.deepEqual(got, []);
  assert.equal(p.retry, 2500);
});

test('a large message in many chunks', () => {
  const big = JSON.stringify({ workers: Array.from({ length: 20000 }, (_, i) => ({ worker_id: 'w' + i })) });
  const text = `id: 1-1\nevent: snapshot\ndata: ${big}\n\n`;
  const chunks = [];
  for (let i = 0; i < text.length; i += 16384) chunks.push(text.slice(i, i + 16384));
  const { got } = parse(chunks);
  assert.equal(got.length, 1);
  assert.equal(JSON.parse(got[0].data).workers.length, 20000);
});
