/**
 * KRX tick sizes of stocks since 25 January 2023 (one table for KOSPI and KOSDAQ): an order price
 * off this grid is refused by the exchange. Earlier tables (by market) belong to backtests of
 * earlier years and live with the engine's market rules.
 */
const TICKS: ReadonlyArray<readonly [below: number, tick: number]> = [
  [2_000, 1],
  [5_000, 5],
  [20_000, 10],
  [50_000, 50],
  [200_000, 100],
  [500_000, 500],
  [Number.POSITIVE_INFINITY, 1_000],
];

export function krxTick(price: number): number {
  for (const [below, tick] of TICKS) {
    if (price < below) {
      return tick;
    }
  }
  return 1_000;
}

/**
 * `price` on the tick grid, rounded the way that does not hurt the order's owner: a buy limit
 * down (never pays more than asked), a sell limit or stop up (never sells for less than asked).
 */
export function onTick(price: number, direction: 'down' | 'up'): number {
  const tick = krxTick(price);
  const stepped = direction === 'down' ? Math.floor(price / tick) * tick : Math.ceil(price / tick) * tick;
  // crossing a band edge upwards can land between the next band's ticks
  const again = krxTick(stepped);
  return again === tick
    ? stepped
    : direction === 'down'
      ? Math.floor(stepped / again) * again
      : Math.ceil(stepped / again) * again;
}

/** Whether `price` lies on the grid (the exchange refuses it otherwise). */
export function isOnTick(price: number): boolean {
  return Number.isInteger(price) && price > 0 && price % krxTick(price) === 0;
}
