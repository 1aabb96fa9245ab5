import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ACCOUNT_EVENTS_STREAM, DomainError } from '@stocklab/platform';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '../outbox/outbox-relay.js';
import { RevocationLedger } from '../revocations/revocation-ledger.js';
import { LoginThrottle } from '../sessions/login-throttle.js';
import { SessionTokens } from '../tokens/session-tokens.service.js';
import { User } from '../users/user.entity.js';
import type { DeleteAccountDto, SignupDto } from './dto/signup.dto.js';
import { SIGNUP_ACCEPTED, type MeDto, type SignupAcceptedDto } from './dto/user.dto.js';
import { PasswordHasher } from './password-hasher.js';
import { SignupThrottle } from './signup-throttle.js';

const wrongPassword = (): DomainError => new DomainError(403, 'INVALID_PASSWORD', 'The password is not correct');

@Injectable()
export class AccountsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(PasswordHasher) private readonly passwords: PasswordHasher,
    @Inject(LoginThrottle) private readonly throttle: LoginThrottle,
    @Inject(SignupThrottle) private readonly signups: SignupThrottle,
    @Inject(SessionTokens) private readonly sessions: SessionTokens,
    @Inject(RevocationLedger) private readonly revocations: RevocationLedger,
    @Inject(OutboxRelay) private readonly outbox: OutboxRelay,
  ) {}

  /**
   * Creates the account unless its email already has one, and answers the same either way (a 409
   * for a taken email told anyone which emails have accounts). The password is hashed in both
   * cases, so that the time taken does not tell either. A taken nickname is still refused: a
   * nickname is public, an email is not.
   */
  async signup(dto: SignupDto, clientAddress: string): Promise<SignupAcceptedDto> {
    await this.signups.reserve(clientAddress);
    const passwordHash = await this.passwords.hash(dto.password);
    const inserted: unknown[] = await this.dataSource.query(
      `INSERT INTO auth.users (email, nickname, password_hash) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING RETURNING id`,
      [dto.email, dto.nickname, passwordHash],
    );
    if (inserted.length === 0) {
      const [{ taken }] = await this.dataSource.query<{ taken: boolean }[]>(
        `SELECT EXISTS (SELECT 1 FROM auth.users WHERE lower(nickname) = lower($1)) AS taken`,
        [dto.nickname],
      );
      if (taken) {
        throw new DomainError(409, 'NICKNAME_TAKEN', 'That nickname is already taken');
      }
    }
    return { email: dto.email, nickname: dto.nickname, message: SIGNUP_ACCEPTED };
  }

  async me(userId: string): Promise<MeDto> {
    const user = await this.dataSource.getRepository(User).findOneBy({ id: userId, isActive: true });
    if (!user) {
      throw new DomainError(401, 'INVALID_TOKEN', 'The account behind this token no longer exists');
    }
    return { id: user.id, email: user.email, nickname: user.nickname, roles: user.roles };
  }

  /**
   * Deactivates the account and refuses every token it holds. The password guess is throttled as
   * a login is (same counters): a stolen access token must not allow unlimited guesses.
   */
  async deactivate(userId: string, dto: DeleteAccountDto, clientAddress: string): Promise<void> {
    const user = await this.dataSource
      .getRepository(User)
      .findOne({ where: { id: userId, isActive: true }, select: { id: true, email: true, passwordHash: true } });
    if (!user) {
      throw wrongPassword();
    }
    await this.throttle.reserve(user.email, clientAddress);
    let correct: boolean;
    try {
      correct = await this.passwords.verify(user.passwordHash, dto.password);
    } catch (error) {
      await this.throttle.abandoned(user.email);
      throw error;
    }
    if (!correct) {
      await this.throttle.failed(clientAddress);
      throw wrongPassword();
    }
    await this.throttle.succeeded(user.email);
    // Redis first: if it is down nothing changes (503), and tokens die before the row does.
    await this.revocations.revokeAllForUser(userId);
    const deletedAt = new Date();
    await this.dataSource.transaction(async (manager) => {
      await manager.update(User, { id: userId }, { isActive: false, deactivatedAt: deletedAt });
      await this.sessions.revokeSessions(manager, { userId });
      // the other services' part of the deletion (strategies, queued backtests) follows from this
      // event, committed with the deletion itself and published by the outbox relay
      await this.outbox.add(manager, ACCOUNT_EVENTS_STREAM, (eventId) => ({
        type: 'account.deleted',
        eventId,
        userId,
        strategies: dto.strategies ?? 'liquidate',
        deletedAt: deletedAt.toISOString(),
      }));
    });
    this.outbox.nudge();
  }
}
