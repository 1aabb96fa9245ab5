import { Body, Controller, Get, Headers, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, idempotencyKeyOf, type AuthenticatedUser } from '@stocklab/platform';
import type { Response } from 'express';
import { AutoStrategiesService } from './auto-strategies.service.js';
import {
  ActivateAutoStrategyDto,
  AutoStrategyDto,
  AutoStrategyIdParamDto,
  DeactivateAutoStrategyDto,
  OrderDto,
  PageQueryDto,
  PerformancePointDto,
  PositionDto,
  PositionParamDto,
  RenameAutoStrategyDto,
  StrategyLogDto,
} from './dto/auto-strategy.dto.js';

@ApiTags('auto-strategies')
@ApiBearerAuth()
@Controller('auto-strategies')
export class AutoStrategiesController {
  constructor(private readonly strategies: AutoStrategiesService) {}

  @Post()
  @ApiCreatedResponse({
    type: AutoStrategyDto,
    description:
      'With an Idempotency-Key, a retry of the same request answers with the strategy the first attempt activated (header Idempotent-Replayed: true) and allocates nothing again; the same key with another request is a 422',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'a unique key per activation, e.g. a UUID' })
  async activate(
    @CurrentUser() user: AuthenticatedUser,
    @Body() dto: ActivateAutoStrategyDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AutoStrategyDto> {
    const { strategy, replayed } = await this.strategies.activate(user, dto, idempotencyKeyOf(idempotencyKey));
    if (replayed) {
      res.setHeader('Idempotent-Replayed', 'true');
    }
    return strategy;
  }

  @Get()
  @ApiOkResponse({ type: [AutoStrategyDto] })
  list(@CurrentUser() user: AuthenticatedUser): Promise<AutoStrategyDto[]> {
    return this.strategies.list(user.id);
  }

  @Get(':id')
  @ApiOkResponse({ type: AutoStrategyDto })
  get(@CurrentUser() user: AuthenticatedUser, @Param() p: AutoStrategyIdParamDto): Promise<AutoStrategyDto> {
    return this.strategies.get(user.id, p.id);
  }

  @Patch(':id')
  @ApiOkResponse({ type: AutoStrategyDto })
  rename(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: AutoStrategyIdParamDto,
    @Body() dto: RenameAutoStrategyDto,
  ): Promise<AutoStrategyDto> {
    return this.strategies.rename(user.id, p.id, dto.name);
  }

  @Post(':id/positions/:code/sell')
  @ApiCreatedResponse({
    type: PositionDto,
    description:
      'Sells this position at the next execute run, at the open (also of an inactive strategy: nothing is stranded); a sell already decided is answered as it is',
  })
  sellPosition(@CurrentUser() user: AuthenticatedUser, @Param() p: PositionParamDto): Promise<PositionDto> {
    return this.strategies.sellPosition(user.id, p.id, p.code);
  }

  @Post(':id/deactivate')
  @ApiCreatedResponse({ type: AutoStrategyDto })
  deactivate(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: AutoStrategyIdParamDto,
    @Body() dto: DeactivateAutoStrategyDto,
  ): Promise<AutoStrategyDto> {
    return this.strategies.deactivate(user.id, p.id, dto.mode);
  }

  @Get(':id/positions')
  @ApiOkResponse({ type: [PositionDto] })
  positions(@CurrentUser() user: AuthenticatedUser, @Param() p: AutoStrategyIdParamDto): Promise<PositionDto[]> {
    return this.strategies.positions(user.id, p.id);
  }

  @Get(':id/orders')
  @ApiOkResponse({ type: [OrderDto] })
  orders(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: AutoStrategyIdParamDto,
    @Query() q: PageQueryDto,
  ): Promise<OrderDto[]> {
    return this.strategies.orders(user.id, p.id, q.limit ?? 100);
  }

  @Get(':id/logs')
  @ApiOkResponse({ type: [StrategyLogDto] })
  logs(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: AutoStrategyIdParamDto,
    @Query() q: PageQueryDto,
  ): Promise<StrategyLogDto[]> {
    return this.strategies.logs(user.id, p.id, q.limit ?? 100);
  }

  @Get(':id/performance')
  @ApiOkResponse({ type: [PerformancePointDto] })
  performance(
    @CurrentUser() user: AuthenticatedUser,
    @Param() p: AutoStrategyIdParamDto,
  ): Promise<PerformancePointDto[]> {
    return this.strategies.performance(user.id, p.id);
  }
}
