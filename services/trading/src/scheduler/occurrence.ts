import { CronTime } from 'cron';
import { startOfDay, zonedParts } from '../calendar/trading-calendar.js';

export const JOB_NAMES = ['ingest', 'select', 'execute', 'reconcile'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export function isJobName(value: string): value is JobName {
  return (JOB_NAMES as readonly string[]).includes(value);
}

/** One scheduled occurrence of a job: what it is for (the trading date) and when it was due. */
export interface Occurrence {
  job: JobName;
  /** yyyy-mm-dd: the trading day the run is for (the trading clock's "today") */
  tradingDate: string;
  /** the instant the cron was (or is) due */
  scheduledAt: Date;
  /** `execute:2026-11-27T09:00+09:00`: job + trading date + the cron's time of day */
  runKey: string;
}

export function runKey(job: JobName, tradingDate: string, time: string, offset: string): string {
  const hhmm = time.endsWith(':00') ? time.slice(0, 5) : time;
  return `${job}:${tradingDate}T${hhmm}${offset}`;
}

/** The first instant `cron` fires on calendar day `day` in `timeZone`, if it fires that day. */
export function firstFireOn(cron: string, timeZone: string, day: string): Date | undefined {
  const midnight = startOfDay(day, timeZone);
  const next = new CronTime(cron, timeZone).getNextDateFrom(new Date(midnight.getTime() - 1000), timeZone).toJSDate();
  return zonedParts(next, timeZone).date === day ? next : undefined;
}

/**
 * The occurrence of `job` for trading date `tradingDate`, due at the cron's time of day on the
 * real calendar day `clockDay` (the two differ only when the trading clock replays another date).
 */
export function occurrenceOn(
  job: JobName,
  cron: string,
  timeZone: string,
  tradingDate: string,
  clockDay: string,
): Occurrence {
  const due = firstFireOn(cron, timeZone, clockDay) ?? startOfDay(clockDay, timeZone);
  const { time, offset } = zonedParts(due, timeZone);
  return { job, tradingDate, scheduledAt: due, runKey: runKey(job, tradingDate, time, offset) };
}

/** The occurrence a cron tick at `firedAt` stands for. */
export function occurrenceAt(job: JobName, firedAt: Date, timeZone: string, tradingDate: string): Occurrence {
  // ticks are due on whole seconds; a late tick still names the second it was due
  const due = new Date(Math.floor(firedAt.getTime() / 1000) * 1000);
  const { time, offset } = zonedParts(due, timeZone);
  return { job, tradingDate, scheduledAt: due, runKey: runKey(job, tradingDate, time, offset) };
}

export type CatchUpDecision = 'not-due' | 'run' | 'missed';

/** Whether a catch-up sweep at `now` should run an occurrence that has no run yet. */
export function catchUpDecision(
  occurrence: Pick<Occurrence, 'scheduledAt'>,
  now: Date,
  graceMs: number,
): CatchUpDecision {
  const late = now.getTime() - occurrence.scheduledAt.getTime();
  if (late < 0) {
    return 'not-due';
  }
  return late <= graceMs ? 'run' : 'missed';
}
