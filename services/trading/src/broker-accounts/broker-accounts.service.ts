import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { appKeyId, KiwoomAccountApi, KiwoomClient, KiwoomError } from '@stocklab/kiwoom';
import { CONFIG, DomainError, REDIS } from '@stocklab/platform';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import type { TradingConfig } from '../config.js';
import { CredentialSealer, parseKeyEncryptionKeys, type Sealed } from './credential-sealer.js';
import type {
  BrokerAccountDto,
  DriftDto,
  LinkableBroker,
  LinkBrokerAccountDto,
  ReconciliationDto,
} from './dto/broker-account.dto.js';

interface BrokerAccountRow {
  id: string;
  broker: LinkableBroker;
  account_no: string;
  created_at: Date;
  verified_at: Date;
}

export interface BrokerCredentials {
  broker: LinkableBroker;
  host: string;
  accountNo: string;
  appKey: string;
  secretKey: string;
}

const PG_UNIQUE_VIOLATION = '23505';
/** how often a broker read (or token request) with no answer is sent again: 0.25 s, then 0.5 s later */
const UNANSWERED_READ_RETRIES = 2;

/** The sealer the configured keys make, or undefined when linking is off (no keys). */
export function sealerOf(config: TradingConfig): CredentialSealer | undefined {
  return config.BROKER_CREDENTIALS_KEYS
    ? new CredentialSealer(parseKeyEncryptionKeys(config.BROKER_CREDENTIALS_KEYS), config.BROKER_CREDENTIALS_ACTIVE_KEY)
    : undefined;
}

const digits = (accountNo: string): string => accountNo.replace(/\D/g, '');

function toDto(row: BrokerAccountRow): BrokerAccountDto {
  return {
    id: row.id,
    broker: row.broker,
    accountNo: `******${row.account_no.slice(-4)}`,
    createdAt: row.created_at.toISOString(),
    verifiedAt: row.verified_at.toISOString(),
  };
}

/**
 * Broker accounts a user links: checked once with the broker (a token issued, the account read),
 * stored with the credentials sealed, listed without them, unlinked (the sealed credentials
 * erased). Nothing here logs or answers a credential.
 */
@Injectable()
export class BrokerAccountsService {
  private readonly logger = new Logger(BrokerAccountsService.name);
  private readonly sealer: CredentialSealer | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: TradingConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    this.sealer = sealerOf(config);
  }

  async link(userId: string, dto: LinkBrokerAccountDto): Promise<BrokerAccountDto> {
    const sealer = this.requireSealer();
    const accountNo = digits(dto.accountNo);
    const linked = await this.dataSource.query<Array<{ n: string }>>(
      `SELECT count(*) AS n FROM trading.broker_accounts WHERE owner_id = $1`,
      [userId],
    );
    if (Number(linked[0]?.n ?? 0) >= this.config.BROKER_MAX_ACCOUNTS) {
      throw new DomainError(
        409,
        'TOO_MANY_BROKER_ACCOUNTS',
        `at most ${this.config.BROKER_MAX_ACCOUNTS} broker accounts may be linked`,
      );
    }
    const api = this.apiFor({ broker: dto.broker, appKey: dto.appKey, secretKey: dto.secretKey });
    let reported: string;
    try {
      reported = digits(await api.accountNumber());
      await api.orderableCash();
    } catch (error) {
      throw this.brokerRefusal(error);
    }
    if (reported !== accountNo) {
      throw new DomainError(422, 'BROKER_ACCOUNT_MISMATCH', 'these credentials trade another account than accountNo');
    }
    const id = randomUUID();
    const sealed = sealer.seal(id, JSON.stringify({ appKey: dto.appKey, secretKey: dto.secretKey }));
    try {
      const rows = await this.dataSource.query<BrokerAccountRow[]>(
        `INSERT INTO trading.broker_accounts (id, owner_id, broker, account_no, app_key_id, credentials, kek_id, verified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
         RETURNING id, broker, account_no, created_at, verified_at`,
        [id, userId, dto.broker, accountNo, appKeyId(dto.appKey), JSON.stringify(sealed), sealed.kek],
      );
      this.logger.log({ brokerAccountId: id, broker: dto.broker }, 'broker account linked');
      return toDto(rows[0]);
    } catch (error) {
      if ((error as { code?: string }).code === PG_UNIQUE_VIOLATION) {
        throw new DomainError(409, 'BROKER_ACCOUNT_LINKED', 'this account is linked already');
      }
      throw error;
    }
  }

  async list(userId: string): Promise<BrokerAccountDto[]> {
    const rows = await this.dataSource.query<BrokerAccountRow[]>(
      `SELECT id, broker, account_no, created_at, verified_at FROM trading.broker_accounts
        WHERE owner_id = $1 ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(toDto);
  }

  /** The day-end reconciliations of an account of the user's, newest first. */
  async reconciliations(userId: string, id: string): Promise<ReconciliationDto[]> {
    const owned = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT id FROM trading.broker_accounts WHERE id = $1 AND owner_id = $2`,
      [id, userId],
    );
    if (owned.length === 0) {
      throw new DomainError(404, 'BROKER_ACCOUNT_NOT_FOUND', `broker account ${id} not found`);
    }
    const rows = await this.dataSource.query<
      Array<{ trading_date: string; platform_cash: string; broker_cash: string; drifts: DriftDto[]; checked_at: Date }>
    >(
      `SELECT to_char(trading_date, 'YYYY-MM-DD') AS trading_date, platform_cash, broker_cash, drifts, checked_at
         FROM trading.broker_reconciliations WHERE broker_account_id = $1 ORDER BY trading_date DESC LIMIT 60`,
      [id],
    );
    return rows.map((r) => ({
      tradingDate: r.trading_date,
      platformCash: Number(r.platform_cash),
      brokerCash: Number(r.broker_cash),
      drifts: r.drifts,
      checkedAt: r.checked_at.toISOString(),
    }));
  }

  /** Unlinks an account: its row, and with it the sealed credentials, is deleted. */
  async unlink(userId: string, id: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const owned = await m.query<Array<{ id: string }>>(
        `SELECT id FROM trading.broker_accounts WHERE id = $1 AND owner_id = $2 FOR UPDATE`,
        [id, userId],
      );
      if (owned.length === 0) {
        throw new DomainError(404, 'BROKER_ACCOUNT_NOT_FOUND', `broker account ${id} not found`);
      }
      // a strategy still trading there would lose the way to its orders and positions
      const using = await m.query<Array<{ id: string }>>(
        `SELECT s.id FROM trading.auto_strategies s
          WHERE s.broker_account_id = $1
            AND (s.status <> 'inactive'
                 OR EXISTS (SELECT 1 FROM trading.positions p WHERE p.auto_strategy_id = s.id)
                 OR EXISTS (SELECT 1 FROM trading.order_intents i WHERE i.auto_strategy_id = s.id
                             AND i.status IN ('pending', 'sending', 'sent', 'accepted', 'needs_review')))
          LIMIT 1`,
        [id],
      );
      if (using.length > 0) {
        throw new DomainError(
          409,
          'BROKER_ACCOUNT_IN_USE',
          `strategy ${using[0].id} trades on this account: stop it and let its orders and positions end first`,
        );
      }
      await m.query(`UPDATE trading.auto_strategies SET broker_account_id = NULL WHERE broker_account_id = $1`, [id]);
      await m.query(`DELETE FROM trading.broker_accounts WHERE id = $1`, [id]);
    });
    this.logger.log({ brokerAccountId: id }, 'broker account unlinked: credentials erased');
  }

  /** The credentials of a linked account, opened (for the broker adapter; never answered or logged). */
  async credentialsOf(id: string): Promise<BrokerCredentials> {
    const sealer = this.requireSealer();
    const rows = await this.dataSource.query<
      Array<{ broker: LinkableBroker; account_no: string; credentials: Sealed }>
    >(`SELECT broker, account_no, credentials FROM trading.broker_accounts WHERE id = $1`, [id]);
    const row = rows[0];
    if (!row) {
      throw new DomainError(404, 'BROKER_ACCOUNT_NOT_FOUND', `broker account ${id} not found`);
    }
    const { appKey, secretKey } = JSON.parse(sealer.open(id, row.credentials)) as { appKey: string; secretKey: string };
    return { broker: row.broker, host: this.hostOf(row.broker), accountNo: row.account_no, appKey, secretKey };
  }

  /** The account API for credentials: one shared token and one shared rate limit per app key. */
  apiFor(c: { broker: LinkableBroker; appKey: string; secretKey: string }): KiwoomAccountApi {
    return new KiwoomAccountApi(
      new KiwoomClient({
        host: this.hostOf(c.broker),
        appKey: c.appKey,
        secretKey: c.secretKey,
        redis: this.redis,
        timeoutMs: this.config.KIWOOM_TIMEOUT_MS,
        // a read with no answer (a timeout, a 5xx) is read again rather than failing the day's run
        // (or a link or activation, which may therefore take up to 3 timeouts before their 503)
        unansweredRetries: UNANSWERED_READ_RETRIES,
      }),
    );
  }

  private hostOf(broker: LinkableBroker): string {
    return broker === 'kiwoom' ? this.config.KIWOOM_HOST : this.config.KIWOOM_MOCK_HOST;
  }

  private requireSealer(): CredentialSealer {
    if (!this.sealer) {
      throw new DomainError(
        503,
        'BROKER_LINKING_DISABLED',
        'linking broker accounts is not configured on this platform (BROKER_CREDENTIALS_KEYS)',
      );
    }
    return this.sealer;
  }

  private brokerRefusal(error: unknown): DomainError {
    if (error instanceof KiwoomError && (error.category === 'reject' || error.category === 'reauth')) {
      return new DomainError(
        422,
        'BROKER_CREDENTIALS_REFUSED',
        `the broker refused these credentials or this account (code ${error.code ?? 'unknown'})`,
      );
    }
    this.logger.warn(
      { error: error instanceof KiwoomError ? error.category : 'unexpected' },
      'broker unreachable while linking',
    );
    return new DomainError(503, 'BROKER_UNAVAILABLE', 'the broker did not answer, try again later', {
      'Retry-After': '5',
    });
  }
}
