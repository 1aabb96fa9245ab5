import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DomainError } from '@stocklab/platform';
import { parseStrategyDefinition, type StrategyDefinition } from '@stocklab/strategy-engine';
import { DataSource } from 'typeorm';
import type {
  CreateStrategyFieldsDto,
  StrategyDto,
  StrategyPageDto,
  UpdateStrategyFieldsDto,
} from './dto/strategy.dto.js';
import type { StrategyBody } from './strategy-body.pipe.js';
import { StrategyCache, type CachedStrategy } from './strategy-cache.js';
import { CREATED_AT_CURSOR_SQL, decodeCreatedAtCursor, encodeCreatedAtCursor } from '../common/created-at-cursor.js';

export type CacheStatus = 'HIT' | 'MISS';

interface StrategyRow {
  id: string;
  owner_id: string;
  name: string;
  description: string;
  definition: StrategyDefinition;
  schema_version: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, owner_id, name, description, definition, schema_version, version, created_at, updated_at';
const MAX_LISTED_ERRORS = 5;

function toCached(row: StrategyRow): CachedStrategy {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    definition: row.definition,
    schemaVersion: row.schema_version,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function toDto(s: CachedStrategy): StrategyDto {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    definition: s.definition,
    schemaVersion: s.schemaVersion,
    version: s.version,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Validates a definition; 400 INVALID_STRATEGY naming the first few problems by path. */
function parseDefinition(input: unknown): StrategyDefinition {
  const parsed = parseStrategyDefinition(input);
  if (parsed.ok) {
    return parsed.value;
  }
  const listed = parsed.errors
    .slice(0, MAX_LISTED_ERRORS)
    .map((e) => `${e.path === '' ? 'definition' : `definition.${e.path}`}: ${e.message}`);
  const more = parsed.errors.length - listed.length;
  throw new DomainError(
    400,
    'INVALID_STRATEGY',
    `The strategy definition is not valid: ${listed.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`,
  );
}

const notFound = (): DomainError => new DomainError(404, 'STRATEGY_NOT_FOUND', 'No such strategy');

/**
 * Strategies belong to one user: another user's strategy is a 404, exactly like a missing one.
 * Reads by id go through the shared Redis cache; writes invalidate it after they commit.
 */
@Injectable()
export class StrategiesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(StrategyCache) private readonly cache: StrategyCache,
  ) {}

  async create(ownerId: string, body: StrategyBody<CreateStrategyFieldsDto>): Promise<StrategyDto> {
    const definition = parseDefinition(body.definition);
    const rows: StrategyRow[] = await this.dataSource.query(
      `INSERT INTO backtest.strategies (owner_id, name, description, definition, schema_version)
       VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING ${COLUMNS}`,
      [ownerId, body.name, body.description ?? '', JSON.stringify(definition), definition.schemaVersion],
    );
    return toDto(toCached(rows[0]));
  }

  /** The caller's strategy (cached read); 404 STRATEGY_NOT_FOUND if missing or someone else's. */
  async findOwned(ownerId: string, id: string): Promise<StrategyDto> {
    return (await this.read(ownerId, id)).strategy;
  }

  /** findOwned, and whether the shared cache answered it. */
  async read(ownerId: string, id: string): Promise<{ strategy: StrategyDto; cache: CacheStatus }> {
    const cached = await this.cache.get(id);
    switch (cached.kind) {
      case 'hit':
        if (cached.strategy.ownerId !== ownerId) {
          throw notFound();
        }
        return { strategy: toDto(cached.strategy), cache: 'HIT' };
      case 'deleted':
        throw notFound();
      case 'miss':
        break;
    }
    const rows: StrategyRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM backtest.strategies WHERE id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) {
      throw notFound();
    }
    const strategy = toCached(row);
    await this.cache.offer(strategy);
    if (strategy.ownerId !== ownerId) {
      throw notFound();
    }
    return { strategy: toDto(strategy), cache: 'MISS' };
  }

  /** Newest first; keyset pagination on (created_at desc, id), the order of ix_strategies_owner. */
  async list(ownerId: string, limit: number, cursor: string | undefined): Promise<StrategyPageDto> {
    const after = cursor === undefined ? undefined : decodeCreatedAtCursor(cursor);
    const params: unknown[] = [ownerId, limit + 1];
    let where = 'owner_id = $1';
    if (after) {
      params.push(after.createdAt, after.id);
      where += ' AND (created_at < $3::timestamptz OR (created_at = $3::timestamptz AND id > $4::uuid))';
    }
    const rows: (StrategyRow & { cursor_at: string })[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${CREATED_AT_CURSOR_SQL} AS cursor_at
       FROM backtest.strategies WHERE ${where}
       ORDER BY created_at DESC, id ASC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => toDto(toCached(row))),
      nextCursor:
        rows.length > limit && last ? encodeCreatedAtCursor({ createdAt: last.cursor_at, id: last.id }) : null,
    };
  }

  async update(ownerId: string, id: string, body: StrategyBody<UpdateStrategyFieldsDto>): Promise<StrategyDto> {
    const definition = body.definition === undefined ? undefined : parseDefinition(body.definition);
    if (body.name === undefined && body.description === undefined && definition === undefined) {
      throw new DomainError(400, 'VALIDATION_FAILED', 'Nothing to update: give name, description or definition');
    }
    // One statement: the owner check, the change and the version bump commit together or not at all.
    const [rows]: [StrategyRow[], number] = await this.dataSource.query(
      `UPDATE backtest.strategies
       SET name = COALESCE($3, name),
           description = COALESCE($4, description),
           definition = COALESCE($5::jsonb, definition),
           schema_version = COALESCE($6, schema_version),
           version = version + 1,
           updated_at = now()
       WHERE id = $1 AND owner_id = $2
       RETURNING ${COLUMNS}`,
      [
        id,
        ownerId,
        body.name ?? null,
        body.description ?? null,
        definition === undefined ? null : JSON.stringify(definition),
        definition?.schemaVersion ?? null,
      ],
    );
    const row = rows[0];
    if (!row) {
      throw notFound();
    }
    await this.cache.invalidate(row.id, row.version);
    return toDto(toCached(row));
  }

  async remove(ownerId: string, id: string): Promise<void> {
    const [rows]: [{ id: string }[], number] = await this.dataSource.query(
      `DELETE FROM backtest.strategies WHERE id = $1 AND owner_id = $2 RETURNING id`,
      [id, ownerId],
    );
    if (rows.length === 0) {
      throw notFound();
    }
    await this.cache.markDeleted(id);
  }
}
