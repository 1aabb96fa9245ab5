import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from '@jest/globals';
import { CodeIndex, forEachCopyRow } from '../src/copy-rows.js';

async function rows(chunks: string[], codes: string[], fields: number): Promise<Array<[number | undefined, number[]]>> {
  const out: Array<[number | undefined, number[]]> = [];
  await forEachCopyRow(
    Readable.from(chunks.map((c) => Buffer.from(c, 'utf8'))),
    new CodeIndex(codes),
    new Float64Array(fields),
    (stock, f) => out.push([stock, [...f]]),
  );
  return out;
}

/** The bytes of COPY ... TO STDOUT lines, parsed without strings: what the market loaders rely on. */
describe('COPY rows read on bytes', () => {
  it('reads codes and numbers across chunk boundaries, in any split', async () => {
    const text = '005930\t20260102\t71000\t-3\n000660\t20260102\t150000\t12\n';
    const expected: Array<[number | undefined, number[]]> = [
      [0, [20260102, 71000, -3]],
      [1, [20260102, 150000, 12]],
    ];
    for (let cut = 0; cut <= text.length; cut++) {
      assert.deepEqual(
        await rows([text.slice(0, cut), text.slice(cut)], ['005930', '000660'], 3),
        expected,
        `cut ${cut}`,
      );
    }
  });

  it('takes what is not a whole number through Number(): decimals, exponents, NULL, and huge digits', async () => {
    const out = await rows(['A\t1.5\t1e+15\t\\N\t12345678901234567\t-0.25\t\n'], ['A'], 6);
    assert.deepEqual(out, [[0, [1.5, 1e15, Number.NaN, Number('12345678901234567'), -0.25, Number.NaN]]]);
  });

  it('missing trailing fields are NaN, unknown codes undefined, and long or non-Latin codes resolve', async () => {
    const out = await rows(
      ['SHORT\t1\nXX\t2\t3\nLONGCODE123\t4\t5\n종목\t6\t7\nSHORT\n'],
      ['SHORT', 'LONGCODE123', '종목'],
      2,
    );
    assert.deepEqual(out, [
      [0, [1, Number.NaN]],
      [undefined, [2, 3]],
      [1, [4, 5]],
      [2, [6, 7]],
      [0, [Number.NaN, Number.NaN]],
    ]);
  });

  it('tells a code from the same bytes with a leading zero byte', () => {
    const index = new CodeIndex(['A']);
    assert.equal(index.lookup(Buffer.from('A'), 0, 1), 0);
    assert.equal(index.lookup(Buffer.from('\0A'), 0, 2), undefined);
    assert.equal(index.size, 1);
  });
});
