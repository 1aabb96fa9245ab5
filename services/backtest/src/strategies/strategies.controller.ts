import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentUser, IdParamDto, Public, type AuthenticatedUser } from '@stocklab/platform';
import { strategyDefinitionJsonSchema } from '@stocklab/strategy-engine';
import type { Response } from 'express';
import {
  CreateStrategyDto,
  CreateStrategyFieldsDto,
  ListStrategiesQueryDto,
  StrategyDto,
  StrategyPageDto,
  UpdateStrategyDto,
  UpdateStrategyFieldsDto,
} from './dto/strategy.dto.js';
import { StrategiesService } from './strategies.service.js';
import { StrategyBodyPipe, type StrategyBody } from './strategy-body.pipe.js';

const DEFAULT_PAGE_SIZE = 20;

@ApiTags('strategies')
@Controller('strategies')
export class StrategiesController {
  constructor(private readonly strategies: StrategiesService) {}

  // declared before ':id' so that 'schema' is not taken for an id
  @Public()
  @Get('schema')
  @ApiOkResponse({ description: 'JSON Schema (draft 2020-12) of a strategy definition' })
  schema(): typeof strategyDefinitionJsonSchema {
    return strategyDefinitionJsonSchema;
  }

  @ApiBearerAuth()
  @Post()
  @ApiBody({ type: CreateStrategyDto })
  @ApiCreatedResponse({ type: StrategyDto, description: '400 INVALID_STRATEGY names the invalid paths' })
  create(
    @CurrentUser() user: AuthenticatedUser,
    @Body(new StrategyBodyPipe(CreateStrategyFieldsDto)) body: StrategyBody<CreateStrategyFieldsDto>,
  ): Promise<StrategyDto> {
    return this.strategies.create(user.id, body);
  }

  @ApiBearerAuth()
  @Get()
  @ApiOkResponse({ type: StrategyPageDto })
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListStrategiesQueryDto): Promise<StrategyPageDto> {
    return this.strategies.list(user.id, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @ApiBearerAuth()
  @Get(':id')
  @ApiOkResponse({ type: StrategyDto })
  @ApiHeader({ name: 'X-Cache', description: 'HIT when the shared cache answered, MISS when PostgreSQL did' })
  async get(
    @CurrentUser() user: AuthenticatedUser,
    @Param() { id }: IdParamDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StrategyDto> {
    const { strategy, cache } = await this.strategies.read(user.id, id);
    res.setHeader('X-Cache', cache);
    return strategy;
  }

  @ApiBearerAuth()
  @Patch(':id')
  @ApiBody({ type: UpdateStrategyDto })
  @ApiOkResponse({ type: StrategyDto, description: 'version is incremented' })
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param() { id }: IdParamDto,
    @Body(new StrategyBodyPipe(UpdateStrategyFieldsDto)) body: StrategyBody<UpdateStrategyFieldsDto>,
  ): Promise<StrategyDto> {
    return this.strategies.update(user.id, id, body);
  }

  @ApiBearerAuth()
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  remove(@CurrentUser() user: AuthenticatedUser, @Param() { id }: IdParamDto): Promise<void> {
    return this.strategies.remove(user.id, id);
  }
}
