import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AnyRole, CurrentUser, type AuthenticatedUser } from '@stocklab/platform';
import {
  IngestRequestDto,
  IngestResultDto,
  StatementsIngestRequestDto,
  StatementsIngestResultDto,
} from './dto/ingest.dto.js';
import { IngestService } from './ingest.service.js';

/**
 * The role of an account that may only trigger the ingests (the trading scheduler's service
 * account: `grant-role <email> market-ingest`), where an admin may too.
 */
export const MARKET_INGEST_ROLE = 'market-ingest';

/**
 * The daily market ingest's trigger, for a Kubernetes CronJob or the trading scheduler (a token
 * with the admin or the market-ingest role): idempotent, a date already ingested answers its
 * earlier run.
 */
@ApiTags('market')
@ApiBearerAuth()
@Controller('market')
export class IngestController {
  constructor(@Inject(IngestService) private readonly ingest: IngestService) {}

  @Post('ingest')
  @AnyRole('admin', MARKET_INGEST_ROLE)
  @HttpCode(200)
  @ApiOkResponse({ type: IngestResultDto, description: 'succeeded or no_trading (replayed: an earlier run)' })
  @ApiResponse({ status: 503, description: 'INGEST_FAILED (recorded, nothing changed) or INGEST_NOT_CONFIGURED' })
  trigger(@Body() body: IngestRequestDto, @CurrentUser() user: AuthenticatedUser): Promise<IngestResultDto> {
    return this.ingest.run(body.date, 'api', user.id, body.tradingDay);
  }

  /**
   * Statements of the periodic reports filed in a date range, from OpenDART (point in time: dated
   * by their filing). Idempotent: a range read again changes nothing.
   */
  @Post('statements/ingest')
  @AnyRole('admin', MARKET_INGEST_ROLE)
  @HttpCode(200)
  @ApiOkResponse({ type: StatementsIngestResultDto })
  @ApiResponse({ status: 503, description: 'STATEMENTS_INGEST_FAILED (nothing changed) or STATEMENTS_NOT_CONFIGURED' })
  statements(
    @Body() body: StatementsIngestRequestDto,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<StatementsIngestResultDto> {
    return this.ingest.statements(body.from, body.to, user.id);
  }
}
