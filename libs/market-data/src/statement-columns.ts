/**
 * A market's financial statements as columns on SharedArrayBuffers, and the statement objects the
 * engine reads (MarketData.fundamentals) as small views over them.
 *
 * A decoded snapshot's statements are these views (decodeMarketSnapshot): 105,000 statement
 * objects of 28 figures each were some 60 MB of heap per version held, and building them 0.2-0.3 s
 * of every load. Worker threads are sent the columns (shared, not copied: sent as objects they were
 * serialized into every thread, which put a backtest worker over its memory line) and build
 * their own views. The engine reads `statement.netIncome` through a getter.
 */
import {
  STATEMENT_FIGURES as FIGURES,
  type FundamentalStatement,
  type StatementFigure as Figure,
} from '@stocklab/strategy-engine';

export interface SharedStatements {
  /** per stock, where its statements start in the columns (stocks + 1 entries) */
  start: Int32Array;
  reportDate: Int32Array;
  /** every figure, NaN where a statement lacks it */
  figures: Record<Figure, Float64Array>;
}

/** The statements of `fundamentals` (per stock, in report order) as shared columns. */
export function shareStatements(fundamentals: readonly (readonly FundamentalStatement[])[]): SharedStatements {
  const n = fundamentals.reduce((sum, list) => sum + list.length, 0);
  const start = new Int32Array(new SharedArrayBuffer((fundamentals.length + 1) * 4));
  const reportDate = new Int32Array(new SharedArrayBuffer(n * 4));
  const figures = Object.fromEntries(FIGURES.map((f) => [f, new Float64Array(new SharedArrayBuffer(n * 8))])) as Record<
    Figure,
    Float64Array
  >;
  let i = 0;
  fundamentals.forEach((list, s) => {
    start[s] = i;
    for (const st of list) {
      reportDate[i] = st.reportDate;
      for (const f of FIGURES) {
        figures[f][i] = st[f] ?? Number.NaN;
      }
      i++;
    }
  });
  start[fundamentals.length] = i;
  return { start, reportDate, figures };
}

/** One statement: its figures read from the shared columns. */
class StatementView {
  constructor(
    readonly figures: Record<Figure, Float64Array>,
    readonly index: number,
    readonly reportDate: number,
  ) {}
}
for (const f of FIGURES) {
  Object.defineProperty(StatementView.prototype, f, {
    enumerable: true,
    get(this: StatementView): number {
      return this.figures[f][this.index];
    },
  });
}

/** The columns behind each set of views (statementViews), and those made for plain statements. */
const columnsOf = new WeakMap<object, SharedStatements>();

/** The statements per stock, as the engine reads them (MarketData.fundamentals), over shared columns. */
export function statementViews(statements: SharedStatements): FundamentalStatement[][] {
  const { start, reportDate, figures } = statements;
  const lists: FundamentalStatement[][] = [];
  for (let s = 0; s + 1 < start.length; s++) {
    const list: FundamentalStatement[] = [];
    for (let i = start[s] ?? 0; i < (start[s + 1] ?? 0); i++) {
      list.push(new StatementView(figures, i, reportDate[i] ?? 0) as unknown as FundamentalStatement);
    }
    lists.push(list);
  }
  columnsOf.set(lists, statements);
  return lists;
}

/**
 * The statements of `fundamentals` as shared columns, for a worker thread: the columns its views
 * are over (a decoded snapshot's), else made once from its objects (a market read from PostgreSQL)
 * however many threads it is sent to.
 */
export function sharedStatementsOf(fundamentals: readonly (readonly FundamentalStatement[])[]): SharedStatements {
  let statements = columnsOf.get(fundamentals);
  if (!statements) {
    statements = shareStatements(fundamentals);
    columnsOf.set(fundamentals, statements);
  }
  return statements;
}
