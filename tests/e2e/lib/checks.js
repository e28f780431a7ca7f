// Assertions on the OpenAI envelopes the server produces.
import assert from 'node:assert/strict';
import { OBJECT_ID } from './harness.js';

export function assertUsage(u, what) {
  assert.ok(u && typeof u === 'object', `${what}: usage present`);
  for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(u[k]), `${what}: usage.${k} is an integer (${u[k]})`);
    assert.ok(u[k] > 1, `${what}: usage.${k} > 1 (${u[k]})`);
  }
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens, `${what}: total = prompt + completion`);
}

// A non-streamed chat.completion. want: { content, reasoning, finish }.
export function assertCompletion(c, model, want, what) {
  assert.equal(c.object, 'chat.completion', `${what}: object`);
  assert.match(c.id, OBJECT_ID, `${what}: id is the upstream conversation id`);
  assert.equal(c.model, model, `${what}: model`);
  assert.ok(Number.isInteger(c.created) && Math.abs(c.created - Date.now() / 1000) < 120, `${what}: created`);
  assert.equal(c.choices.length, 1, `${what}: one choice`);
  const ch = c.choices[0];
  assert.equal(ch.index, 0, `${what}: index`);
  assert.equal(ch.message.role, 'assistant', `${what}: role`);
  assert.equal(ch.message.content, want.content, `${what}: content`);
  assert.equal(ch.message.reasoning_content ?? '', want.reasoning, `${what}: reasoning_content`);
  assert.equal(ch.finish_reason, want.finish, `${what}: finish_reason`);
  assertUsage(c.usage, what);
}

// The chunks of a stream read with collect(). want: { content, reasoning,
// finish }; usage: whether stream_options.include_usage was set.
export function assertChunks(r, model, want, usage, what) {
  assert.equal(r.error, null, `${what}: the stream ended without an error (${r.error?.message})`);
  const chunks = r.chunks;
  assert.ok(chunks.length >= 2, `${what}: at least a role and a finish chunk`);
  const id = chunks[0].id;
  const created = chunks[0].created;
  assert.match(id, OBJECT_ID, `${what}: id is the upstream conversation id`);
  assert.ok(Number.isInteger(created) && Math.abs(created - Date.now() / 1000) < 120, `${what}: created`);
  for (const [i, c] of chunks.entries()) {
    assert.equal(c.object, 'chat.completion.chunk', `${what}: chunk ${i} object`);
    assert.equal(c.id, id, `${what}: chunk ${i} id`);
    assert.equal(c.created, created, `${what}: chunk ${i} created`);
    assert.equal(c.model, model, `${what}: chunk ${i} model`);
  }
  let withChoices = chunks;
  if (usage) {
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, [], `${what}: the usage chunk has empty choices`);
    assertUsage(last.usage, `${what} (usage chunk)`);
    withChoices = chunks.slice(0, -1);
  } else {
    assert.ok(chunks.every((c) => c.choices.length === 1), `${what}: no usage chunk without include_usage`);
  }
  assert.ok(withChoices.every((c) => c.choices.length === 1 && c.choices[0].index === 0),
            `${what}: every other chunk has one choice`);
  assert.equal(withChoices[0].choices[0].delta.role, 'assistant', `${what}: the first delta has role assistant`);
  const last = withChoices[withChoices.length - 1];
  assert.equal(last.choices[0].finish_reason, want.finish, `${what}: finish_reason of the last chunk`);
  for (const c of withChoices.slice(0, -1))
    assert.equal(c.choices[0].finish_reason ?? null, null, `${what}: finish_reason only on the last chunk`);
  assert.equal(r.content, want.content, `${what}: concatenated delta.content`);
  assert.equal(r.reasoning, want.reasoning, `${what}: concatenated delta.reasoning_content`);
}
