import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentUser, IdParamDto, idempotencyKeyOf, type AuthenticatedUser } from '@stocklab/platform';
import type { Response } from 'express';
import { BacktestsService } from './backtests.service.js';
import { StrategyBodyPipe, type StrategyBody } from '../strategies/strategy-body.pipe.js';
import {
  BacktestDto,
  BacktestListQueryDto,
  BacktestSummaryDto,
  CompareDto,
  CompareQueryDto,
  CreateBacktestDto,
  CreateBacktestFieldsDto,
  ExportQueryDto,
  PageQueryDto,
} from './dto/backtest.dto.js';

@ApiTags('backtests')
@ApiBearerAuth()
@Controller('backtests')
export class BacktestsController {
  constructor(private readonly backtests: BacktestsService) {}

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({
    type: BacktestDto,
    description:
      'queued; 429 BACKTEST_LIMIT beyond the per-user limit. With an Idempotency-Key, a retry of the same request answers with the backtest the first attempt queued (header Idempotent-Replayed: true); the same key with another request is a 422',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'a unique key per submission, e.g. a UUID' })
  @ApiBody({ type: CreateBacktestDto })
  async submit(
    @CurrentUser() user: AuthenticatedUser,
    @Body(new StrategyBodyPipe(CreateBacktestFieldsDto)) body: StrategyBody<CreateBacktestFieldsDto>,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<BacktestDto> {
    const { backtest, replayed } = await this.backtests.submit(user.id, body, idempotencyKeyOf(idempotencyKey));
    if (replayed) {
      res.setHeader('Idempotent-Replayed', 'true');
    }
    return backtest;
  }

  @Get()
  @ApiOkResponse({ description: 'newest first: { items: BacktestSummaryDto[], nextCursor }' })
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Query() page: BacktestListQueryDto,
  ): Promise<{ items: BacktestSummaryDto[]; nextCursor: string | null }> {
    return this.backtests.list(user.id, page.limit ?? 20, page.cursor);
  }

  // before ':id', which would take "compare" for an id
  @Get('compare')
  @ApiOkResponse({
    type: CompareDto,
    description: '404 BACKTEST_NOT_FOUND for an id not yours, 409 BACKTEST_NOT_SUCCEEDED for one without results',
  })
  compare(@CurrentUser() user: AuthenticatedUser, @Query() query: CompareQueryDto): Promise<CompareDto> {
    return this.backtests.compare(user.id, query.ids);
  }

  @Get(':id')
  @ApiOkResponse({ type: BacktestDto })
  get(@CurrentUser() user: AuthenticatedUser, @Param() { id }: IdParamDto): Promise<BacktestDto> {
    return this.backtests.get(user.id, id);
  }

  @Get(':id/equity')
  equity(@CurrentUser() user: AuthenticatedUser, @Param() { id }: IdParamDto, @Query() page: PageQueryDto) {
    return this.backtests.equity(user.id, id, page.limit ?? 1000, page.cursor);
  }

  @Get(':id/trades')
  trades(@CurrentUser() user: AuthenticatedUser, @Param() { id }: IdParamDto, @Query() page: PageQueryDto) {
    return this.backtests.trades(user.id, id, page.limit ?? 100, page.cursor);
  }

  @Get(':id/export')
  @ApiProduces('text/csv')
  async export(
    @CurrentUser() user: AuthenticatedUser,
    @Param() { id }: IdParamDto,
    @Query() query: ExportQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const file = await this.backtests.export(user.id, id, query.part ?? 'equity');
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${file.fileName}"`);
    return new StreamableFile(file.body, { length: file.contentLength });
  }

  @Delete(':id')
  @ApiOkResponse({ type: BacktestDto, description: 'a queued or running backtest: cancelled, and kept' })
  @ApiNoContentResponse({ description: 'a finished backtest: erased with its results and export' })
  async cancelOrDelete(
    @CurrentUser() user: AuthenticatedUser,
    @Param() { id }: IdParamDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<BacktestDto | undefined> {
    const cancelled = await this.backtests.cancelOrDelete(user.id, id);
    if (!cancelled) {
      res.status(204);
    }
    return cancelled;
  }
}
