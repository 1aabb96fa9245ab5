import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import 'reflect-metadata';
import { renderError } from '@stocklab/platform';
import { CreateStrategyFieldsDto, UpdateStrategyFieldsDto } from './dto/strategy.dto.js';
import { StrategyBodyPipe } from './strategy-body.pipe.js';

const nested = (open: string, close: string, depth: number): unknown =>
  JSON.parse(`{"name":"deep","definition":{"buyConditions":${open.repeat(depth)}1${close.repeat(depth)}}}`);

/** Rejected with a 400 whose stable error body says `message`. */
async function rejects400(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    const { body } = renderError(error);
    assert.equal(body.statusCode, 400);
    assert.match(body.message, message);
    return true;
  });
}

describe(StrategyBodyPipe.name, () => {
  it('passes a 50,000-level nested definition through untouched instead of overflowing the stack', async () => {
    const pipe = new StrategyBodyPipe(CreateStrategyFieldsDto);
    for (const body of [nested('{"and":[', ']}', 5_000), nested('[', ']', 50_000)]) {
      const out = await pipe.transform(body);
      assert.equal(out.name, 'deep');
      assert.equal(out.definition, (body as { definition: unknown }).definition);
    }
  });

  it('validates the other fields with the DTO rules and rejects unknown ones', async () => {
    const pipe = new StrategyBodyPipe(CreateStrategyFieldsDto);
    const out = await pipe.transform({ name: '  trimmed  ', description: 'd', definition: { a: 1 } });
    assert.deepEqual({ ...out }, { name: 'trimmed', description: 'd', definition: { a: 1 } });
    await rejects400(pipe.transform({ name: 'x', definition: {}, isAdmin: true }), /isAdmin should not exist/);
    await rejects400(pipe.transform({ name: '  ', definition: {} }), /name must be longer/);
    await rejects400(pipe.transform({ name: 'x'.repeat(101), definition: {} }), /name must be shorter/);
  });

  it('lets every field of an update be omitted but none be null', async () => {
    const pipe = new StrategyBodyPipe(UpdateStrategyFieldsDto);
    const out = await pipe.transform({ description: '' });
    assert.equal(out.description, '');
    assert.equal(out.name, undefined);
    await rejects400(pipe.transform({ name: null }), /name must be a string/);
  });

  it('rejects a body that is not an object with a 400', async () => {
    const pipe = new StrategyBodyPipe(CreateStrategyFieldsDto);
    for (const body of [[1, 2], 'x', null, undefined]) {
      await rejects400(pipe.transform(body), /must be a JSON object/);
    }
  });
});
