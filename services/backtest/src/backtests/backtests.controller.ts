import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
  StreamableFile,
} from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthenticatedUser } from '@stocklab/platform';
import type { Response } from 'express';
import { BacktestsService } from './backtests.service.js';
import { StrategyBodyPipe, type StrategyBody } from '../strategies/strategy-body.pipe.js';
import {
  BacktestDto,
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
  @ApiAcceptedResponse({ type: BacktestDto, description: 'queued; 429 BACKTEST_LIMIT beyond the per-user limit' })
  @ApiBody({ type: CreateBacktestDto })
  submit(
    @CurrentUser() user: AuthenticatedUser,
    @Body(new StrategyBodyPipe(CreateBacktestFieldsDto)) body: StrategyBody<CreateBacktestFieldsDto>,
  ): Promise<BacktestDto> {
    return this.backtests.submit(user.id, body);
  }

  @Get()
  list(
    @CurrentUser() user: AuthenticatedUser,
    @Query() page: PageQueryDto,
  ): Promise<{ items: BacktestDto[]; nextCursor: string | null }> {
    return this.backtests.list(user.id, Math.min(page.limit ?? 20, 100), page.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: BacktestDto })
  get(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseUUIDPipe) id: string): Promise<BacktestDto> {
    return this.backtests.get(user.id, id);
  }

  @Get(':id/equity')
  equity(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseUUIDPipe) id: string, @Query() page: PageQueryDto) {
    return this.backtests.equity(user.id, id, page.limit ?? 1000, page.cursor);
  }

  @Get(':id/trades')
  trades(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseUUIDPipe) id: string, @Query() page: PageQueryDto) {
    return this.backtests.trades(user.id, id, Math.min(page.limit ?? 100, 1000), page.cursor);
  }

  @Get(':id/export')
  @ApiProduces('text/csv')
  async export(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', ParseUUIDPipe) id: string,
    @Query() query: ExportQueryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const file = await this.backtests.export(user.id, id, query.part ?? 'equity');
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${file.fileName}"`);
    return new StreamableFile(file.body, { length: file.contentLength });
  }

  @Delete(':id')
  @ApiOkResponse({ type: BacktestDto, description: 'cancelled' })
  cancel(@CurrentUser() user: AuthenticatedUser, @Param('id', ParseUUIDPipe) id: string): Promise<BacktestDto> {
    return this.backtests.cancel(user.id, id);
  }
}
