import {
  ConfigError,
  commonConfigSchema,
  int,
  oneOf,
  optionalStr,
  str,
  url,
  type ConfigOf,
  type VarSpec,
} from '@stocklab/platform';
import { parseKeyEncryptionKeys } from './broker-accounts/credential-sealer.js';

/** yyyy-mm-dd that is a real calendar date. */
function isoDate(opts: { description: string }): VarSpec<string | undefined> {
  return {
    description: opts.description,
    optional: true,
    parse(raw, name) {
      if (raw === '') {
        return undefined;
      }
      const d = new Date(`${raw}T00:00:00Z`);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== raw) {
        throw new ConfigError(name, `must be a date yyyy-mm-dd, got ${JSON.stringify(raw)}`);
      }
      return raw;
    },
  };
}

/** Key-encryption keys (a secret): checked at start-up, so that a bad key stops the process, not a link. */
function keyEncryptionKeys(opts: { description: string }): VarSpec<string | undefined> {
  return {
    description: opts.description,
    optional: true,
    secret: true,
    parse(raw, name) {
      if (raw === '') {
        return undefined;
      }
      try {
        parseKeyEncryptionKeys(raw);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
      return raw;
    },
  };
}

/** A decimal number of seconds (the leader elector reads these from the environment itself). */
function seconds(opts: { description: string; default: string }): VarSpec<number> {
  return {
    description: opts.description,
    defaultValue: opts.default,
    parse(raw, name) {
      const value = Number(raw);
      if (!Number.isFinite(value) || value <= 0) {
        throw new ConfigError(name, `must be a positive number of seconds, got ${JSON.stringify(raw)}`);
      }
      return value;
    },
  };
}

const CRON = /^\S+( \S+){4,5}$/;

export const tradingConfigSchema = {
  ...commonConfigSchema,
  PORT: int({ description: 'HTTP port', min: 1, max: 65535, default: '3003' }),
  BACKTEST_URL: url({
    description: 'Base URL of the backtest service (strategies are fetched from it on activation)',
    protocols: ['http', 'https'],
    default: 'http://127.0.0.1:3002',
  }),
  BACKTEST_TIMEOUT_MS: int({
    description: 'Timeout of calls to the backtest service',
    min: 100,
    max: 60000,
    default: '5000',
  }),
  LEADER_ELECTION: oneOf(['kubernetes', 'postgres', 'auto'] as const, {
    description:
      'Leader election backend: a Kubernetes Lease, a PostgreSQL advisory lock, or auto (Kubernetes when KUBERNETES_SERVICE_HOST or KUBECONFIG is set)',
    default: 'auto',
  }),
  LEASE_NAME: str({
    description: 'Lease (or advisory lock) name',
    default: 'trading-scheduler',
    pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
  }),
  POD_NAMESPACE: str({ description: 'Namespace of the Lease', default: 'default' }),
  LEASE_DURATION_SECONDS: seconds({
    description: 'How long followers wait before taking over a lease that is not renewed',
    default: '15',
  }),
  RENEW_DEADLINE_SECONDS: seconds({
    description: 'How long the leader tries to renew before it stops acting',
    default: '10',
  }),
  RETRY_PERIOD_SECONDS: seconds({
    description: 'How often candidates try to acquire and the leader renews',
    default: '2',
  }),
  TRADING_SELECT_CRON: str({
    description: 'Cron of the select job (seconds field allowed), in TRADING_TIMEZONE',
    default: '0 0 7 * * *',
    pattern: CRON,
  }),
  TRADING_EXECUTE_CRON: str({
    description: 'Cron of the execute job (seconds field allowed), in TRADING_TIMEZONE',
    default: '0 0 9 * * *',
    pattern: CRON,
  }),
  TRADING_RECONCILE_CRON: str({
    description:
      "Cron of the day-end reconciliation (fills booked, linked accounts compared with the broker's balance), in TRADING_TIMEZONE",
    default: '0 40 15 * * *',
    pattern: CRON,
  }),
  TRADING_INGEST_CRON: str({
    description:
      "Cron of the daily market ingest (the previous KRX trading day's data, asked of the backtest service; on when TRADING_SERVICE_EMAIL is set), in TRADING_TIMEZONE",
    default: '0 0 6 * * *',
    pattern: CRON,
  }),
  AUTH_URL: url({
    description: 'Base URL of the auth service (the scheduler logs in there as its service account)',
    protocols: ['http', 'https'],
    default: 'http://127.0.0.1:3001',
  }),
  TRADING_SERVICE_EMAIL: optionalStr({
    description:
      "The scheduler's service account (an account with the market-ingest role: grant-role <email> market-ingest; it may trigger the ingests and nothing else) it logs in with to trigger the daily market ingest; unset = the ingest job is off (data comes by imports)",
  }),
  TRADING_SERVICE_PASSWORD: optionalStr({
    description: "The service account's password (from a Secret)",
    secret: true,
  }),
  TRADING_INGEST_TIMEOUT_MS: int({
    description: "Longest wait for the backtest service's answer to one ingest trigger",
    min: 1000,
    max: 3_600_000,
    default: '600000',
  }),
  TRADING_TIMEZONE: str({ description: 'Time zone of the crons and of the trading date', default: 'Asia/Seoul' }),
  CATCH_UP_GRACE_MINUTES: int({
    description:
      'A missed occurrence of today is still run by the catch-up sweep up to this long after its scheduled instant',
    min: 0,
    max: 1440,
    default: '30',
  }),
  CATCH_UP_INTERVAL_SECONDS: int({
    description: 'Catch-up sweep period while leading',
    min: 1,
    max: 3600,
    default: '30',
  }),
  STALE_RUN_SECONDS: int({
    description:
      'A running job whose heartbeat is older than this may be resumed by the leader (its runner is presumed dead)',
    min: 5,
    max: 86400,
    default: '120',
  }),
  TRADING_AS_OF_DATE: isoDate({
    description:
      'Trading clock: the market-data date used as "today" by the jobs and the paper broker (replays a historical day); unset = the real date in TRADING_TIMEZONE',
  }),
  TRADING_CLOCK: oneOf(['real', 'replay'] as const, {
    description:
      'real: the wall clock (TRADING_AS_OF_DATE may fix the date); replay: the instant a replay driver (a test, a demo) stores in Redis at trading:replay-clock, which the crons, the catch-up sweep and "today" follow',
    default: 'real',
  }),
  BROKER_CREDENTIALS_KEYS: keyEncryptionKeys({
    description:
      'Key-encryption keys that seal linked broker credentials: id:base64(32 bytes)[,id:base64...] (from a Secret or a KMS); unset = linking broker accounts is off',
  }),
  BROKER_CREDENTIALS_ACTIVE_KEY: optionalStr({
    description:
      'Id of the key in BROKER_CREDENTIALS_KEYS that seals new credentials (default: the first); after a change, `npm run rewrap-credentials -w @stocklab/trading` re-wraps the stored ones',
  }),
  KIWOOM_HOST: url({
    description: "Kiwoom's real-trading REST host",
    default: 'https://api.kiwoom.com',
    protocols: ['https', 'http'],
  }),
  KIWOOM_MOCK_HOST: url({
    description: "Kiwoom's mock-investment REST host",
    default: 'https://mockapi.kiwoom.com',
    protocols: ['https', 'http'],
  }),
  KIWOOM_TIMEOUT_MS: int({
    description: 'Timeout of each Kiwoom REST call (an order that times out is looked up, never resent blindly)',
    min: 500,
    max: 60_000,
    default: '10000',
  }),
  KIWOOM_SEND_BUDGET_MS: int({
    description:
      'How long after its attempt is recorded an order may still leave (its token and rate-limit waits); later, it is not sent',
    min: 100,
    max: 60_000,
    default: '5000',
  }),
  KIWOOM_SETTLE_MS: int({
    description:
      "How long after a lost order answer the broker's order list is trusted to show the order, if it exists",
    min: 0,
    max: 60_000,
    default: '2000',
  }),
  BROKER_MAX_ACCOUNTS: int({
    description: 'Broker accounts one user may link',
    min: 1,
    max: 100,
    default: '5',
  }),
  BROKER: oneOf(['paper'] as const, {
    description: 'Broker of strategies activated without a linked account (brokerAccountId)',
    default: 'paper',
  }),
  TRADING_MIN_ALLOCATION: int({
    description: 'Smallest capital (KRW) a strategy may be activated with: enough for real orders',
    min: 1,
    max: 1_000_000_000_000,
    default: '100000',
  }),
  TRADING_MAX_ACTIVE_STRATEGIES: int({
    description: 'Active or liquidating auto strategies one user may have (each costs the daily jobs a decision)',
    min: 1,
    max: 10000,
    default: '20',
  }),
  TRADING_MARKET_MIN_DAYS: int({
    description:
      'Fewest latest trading days of market data a trading replica loads; more when an active strategy needs a longer history',
    min: 2,
    max: 100_000,
    default: '250',
  }),
  PAPER_ACCOUNT_INITIAL_CASH: int({
    description: 'Starting cash (KRW) of a new paper account',
    min: 0,
    max: 1_000_000_000_000,
    default: '100000000',
  }),
  PAPER_BROKER_LATENCY_MS: int({
    description: 'Simulated network latency of each paper broker call (demos and failover tests)',
    min: 0,
    max: 60000,
    default: '0',
  }),
  TRADING_IDENTITY: optionalStr({ description: 'Leader election identity (default POD_NAME plus a random suffix)' }),
};

export type TradingConfig = ConfigOf<typeof tradingConfigSchema>;
