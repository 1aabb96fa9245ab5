/**
 * Dates of the KRX calendar as `yyyy-mm-dd` strings (no Date objects for calendar days: a
 * calendar date has no time zone), and the instants of a time zone.
 */

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isIsoDate(value: string): boolean {
  if (!DATE.test(value)) {
    return false;
  }
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** 0 = Sunday ... 6 = Saturday. */
export function dayOfWeek(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

export function isWeekend(date: string): boolean {
  const d = dayOfWeek(date);
  return d === 0 || d === 6;
}

export type NonTradingReason = 'weekend' | 'holiday';

/** Why `date` is not a KRX trading day, or undefined when it is one. */
export function nonTradingReason(date: string, holidays: ReadonlySet<string>): NonTradingReason | undefined {
  if (isWeekend(date)) {
    return 'weekend';
  }
  return holidays.has(date) ? 'holiday' : undefined;
}

export interface ZonedParts {
  /** yyyy-mm-dd */
  date: string;
  /** HH:MM:SS */
  time: string;
  /** +09:00 */
  offset: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock date, time and UTC offset of `instant` in `timeZone`. */
export function zonedParts(instant: Date, timeZone: string): ZonedParts {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  const name = parts.timeZoneName ?? 'GMT';
  const offset = name === 'GMT' ? '+00:00' : name.replace('GMT', '');
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}:${parts.second}`,
    offset,
  };
}

/** The instant of `date` at 00:00 in `timeZone` (zones without a midnight DST jump, as Asia/Seoul). */
export function startOfDay(date: string, timeZone: string): Date {
  const guess = new Date(`${date}T00:00:00Z`);
  const { offset } = zonedParts(guess, timeZone);
  return new Date(`${date}T00:00:00${offset}`);
}
