import { Injectable } from '@nestjs/common';
import { DomainError } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import { addDays, nonTradingReason, type NonTradingReason } from './trading-calendar.js';
import { returnedRows } from '../database/returning.js';

export interface HolidayDto {
  date: string;
  name: string;
}

/** KRX holidays (seeded for 2026 and 2027, admin-editable) and the trading-day rule. */
@Injectable()
export class CalendarService {
  constructor(private readonly dataSource: DataSource) {}

  async holidaySet(): Promise<Set<string>> {
    const rows: Array<{ date: string }> = await this.dataSource.query(
      `SELECT to_char(date, 'YYYY-MM-DD') AS date FROM trading.holidays`,
    );
    return new Set(rows.map((r) => r.date));
  }

  async nonTradingReason(date: string): Promise<NonTradingReason | undefined> {
    return nonTradingReason(date, await this.holidaySet());
  }

  /** The last trading day before `date` (yyyy-mm-dd). */
  async previousTradingDay(date: string): Promise<string> {
    const holidays = await this.holidaySet();
    let day = addDays(date, -1);
    while (nonTradingReason(day, holidays)) {
      day = addDays(day, -1);
    }
    return day;
  }

  async list(year?: number): Promise<HolidayDto[]> {
    return this.dataSource.query(
      `SELECT to_char(date, 'YYYY-MM-DD') AS date, name FROM trading.holidays
        WHERE $1::int IS NULL OR extract(year FROM date) = $1 ORDER BY date`,
      [year ?? null],
    );
  }

  async upsert(date: string, name: string): Promise<HolidayDto> {
    await this.dataSource.query(
      `INSERT INTO trading.holidays (date, name) VALUES ($1, $2) ON CONFLICT (date) DO UPDATE SET name = EXCLUDED.name`,
      [date, name],
    );
    return { date, name };
  }

  async remove(date: string): Promise<void> {
    const rows = returnedRows<unknown>(
      await this.dataSource.query(`DELETE FROM trading.holidays WHERE date = $1 RETURNING date`, [date]),
    );
    if (rows.length === 0) {
      throw new DomainError(404, 'HOLIDAY_NOT_FOUND', `no holiday on ${date}`);
    }
  }
}
