import { bool, commonConfigSchema, int, optionalStr, str, type ConfigOf } from '@stocklab/platform';

export const backtestConfigSchema = {
  ...commonConfigSchema,
  PORT: int({ description: 'HTTP port', min: 1, max: 65535, default: '3002' }),
  S3_ENDPOINT: optionalStr({ description: 'S3-compatible endpoint (MinIO, s3rver); unset for AWS S3' }),
  S3_BUCKET: str({
    description: 'Bucket for uploaded datasets and backtest exports',
    default: 'stocklab',
    pattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  }),
  S3_REGION: str({ description: 'S3 region', default: 'us-east-1' }),
  S3_ACCESS_KEY_ID: optionalStr({
    description: 'S3 access key (unset: the SDK default chain, e.g. IRSA)',
    secret: true,
  }),
  S3_SECRET_ACCESS_KEY: optionalStr({ description: 'S3 secret key', secret: true }),
  S3_FORCE_PATH_STYLE: bool({ description: 'Path-style bucket addressing (MinIO, s3rver)', default: 'true' }),
  S3_CREATE_BUCKET: bool({
    description: 'Create the bucket at start if it is missing (development)',
    default: 'false',
  }),
  DATASET_MAX_BYTES: int({
    description: 'Largest accepted dataset upload in bytes',
    min: 1024,
    max: 10_737_418_240,
    default: '268435456',
  }),
  BACKTEST_CONCURRENCY: int({
    description: 'Backtests one process runs at once (0: this process only serves the API)',
    min: 0,
    max: 64,
    default: '1',
  }),
  IMPORT_CONCURRENCY: int({
    description: 'Dataset imports one process runs at once (0: none)',
    min: 0,
    max: 16,
    default: '1',
  }),
  BACKTEST_USER_LIMIT: int({
    description: 'Queued or running backtests one user may have; beyond it 429',
    min: 1,
    max: 100,
    default: '3',
  }),
  BACKTEST_MAX_TRADES: int({
    description:
      'Most trades one backtest may store; a run that makes more fails with RESULT_TOO_LARGE instead of storing them',
    min: 100,
    max: 10_000_000,
    default: '100000',
  }),
  BACKTEST_RETENTION_DAYS: int({
    description:
      'Finished backtests older than this many days are deleted with their results and exports (0 = kept until the quota)',
    min: 0,
    max: 36500,
    default: '365',
  }),
  BACKTEST_MAX_STORED_PER_USER: int({
    description:
      'Finished backtests kept per user: beyond the newest this many, the oldest are deleted with their results and exports',
    min: 1,
    max: 100000,
    default: '200',
  }),
  BACKTEST_RETENTION_SWEEP_SECONDS: int({
    description: 'How often each replica sweeps for backtests past retention or over a quota',
    min: 1,
    max: 86400,
    default: '600',
  }),
  STRATEGY_CACHE_TTL_SECONDS: int({
    description: 'TTL of cached strategies in Redis',
    min: 1,
    max: 86400,
    default: '300',
  }),
  JOB_LOCK_MS: int({
    description:
      'How long a job stays locked to a worker without a heartbeat; a killed worker’s job is taken up again after it',
    min: 1000,
    max: 600000,
    default: '30000',
  }),
  KRX_API_KEY: optionalStr({
    description:
      'AUTH_KEY of the KRX Open API (openapi.krx.co.kr, each daily-trading API approved for it) for the daily market ingest; unset: POST /market/ingest answers 503 INGEST_NOT_CONFIGURED',
    secret: true,
  }),
  KRX_API_URL: str({
    description: 'Base URL of the KRX Open API (a test double in tests)',
    default: 'https://data-dbg.krx.co.kr',
    pattern: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/,
  }),
  KRX_REQUESTS_PER_SECOND: int({
    description: 'Requests per second to the KRX Open API, all replicas together (paced through Redis)',
    min: 1,
    max: 50,
    default: '2',
  }),
  KRX_REQUESTS_PER_DAY: int({
    description:
      "Requests per day (Asia/Seoul) the KRX Open API key may send, all replicas together (counted in Redis); past it a request is refused unsent until midnight there (KRX's quota is 10,000 a day)",
    min: 1,
    max: 10_000_000,
    default: '10000',
  }),
  KRX_RETRY_ATTEMPTS: int({
    description: 'Attempts per KRX request (the first included) before the day’s ingest is recorded failed',
    min: 1,
    max: 20,
    default: '5',
  }),
  KRX_RETRY_BASE_MS: int({
    description: 'First back-off ceiling between KRX attempts in ms (doubling, full jitter, at most 30 s)',
    min: 1,
    max: 60000,
    default: '500',
  }),
  KIWOOM_CHART_APP_KEY: optionalStr({
    description:
      "App key of a Kiwoom REST account for the daily ingest's fallback (the ka10081 daily chart, stock by stock) when KRX is down or has not published a trading day; unset: such a day's run fails and is retried",
    secret: true,
  }),
  KIWOOM_CHART_SECRET_KEY: optionalStr({
    description: 'Secret key of KIWOOM_CHART_APP_KEY',
    secret: true,
  }),
  KIWOOM_CHART_URL: str({
    description: "Base URL of Kiwoom's REST API for the ingest fallback (a test double in tests)",
    default: 'https://api.kiwoom.com',
    pattern: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/,
  }),
  PREVIEW_TIMEOUT_MS: int({
    description:
      'How long POST /market/universe-preview waits for a process holding the market data (one running backtests) to answer',
    min: 100,
    max: 120000,
    default: '15000',
  }),
  OPENDART_API_KEY: optionalStr({
    description:
      'crtfc_key of OpenDART (opendart.fss.or.kr) for the statements ingest from periodic reports and, in the daily ingest, the bonus and rights issues of ex-rights days and the delisting notices of disappeared stocks; unset: POST /market/statements/ingest answers 503 STATEMENTS_NOT_CONFIGURED and the daily ingest only lists base price changes and disappearances',
    secret: true,
  }),
  OPENDART_API_URL: str({
    description: 'Base URL of OpenDART (a test double in tests)',
    default: 'https://opendart.fss.or.kr',
    pattern: /^https?:\/\/[^\s/]+(\/[^\s]*)?$/,
  }),
  OPENDART_REQUESTS_PER_SECOND: int({
    description: 'Requests per second to OpenDART, all replicas together (paced through Redis)',
    min: 1,
    max: 50,
    default: '5',
  }),
  OPENDART_REQUESTS_PER_DAY: int({
    description:
      "Requests per day (Asia/Seoul) the OpenDART key may send, all replicas together (counted in Redis); past it a request is refused unsent until midnight there (OpenDART's quota: 10,000 or 20,000 a day by its guides)",
    min: 1,
    max: 10_000_000,
    default: '10000',
  }),
};

export type BacktestConfig = ConfigOf<typeof backtestConfigSchema>;
