import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type AuthenticatedUser } from '@stocklab/platform';
import type { Request } from 'express';
import { DatasetsService } from './datasets.service.js';
import {
  DatasetAcceptedDto,
  DatasetDto,
  DatasetIdParams,
  DatasetPageDto,
  ListDatasetsQuery,
} from './dto/dataset.dto.js';

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('datasets')
export class DatasetsController {
  constructor(@Inject(DatasetsService) private readonly datasets: DatasetsService) {}

  @Post()
  @Roles('admin')
  @HttpCode(202)
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    description: 'Field `kind` (securities | bars | statements) first, then one CSV file field `file`',
    schema: {
      type: 'object',
      required: ['kind', 'file'],
      properties: {
        kind: { type: 'string', enum: ['securities', 'bars', 'statements', 'classifications', 'corporate_actions'] },
        file: { type: 'string', format: 'binary' },
      },
    },
  })
  @ApiResponse({ status: 202, type: DatasetAcceptedDto })
  upload(@Req() req: Request, @CurrentUser() user: AuthenticatedUser): Promise<DatasetAcceptedDto> {
    return this.datasets.upload(req, user);
  }

  @Get()
  list(@CurrentUser() user: AuthenticatedUser, @Query() query: ListDatasetsQuery): Promise<DatasetPageDto> {
    return this.datasets.list(user, query);
  }

  @Get(':id')
  get(@CurrentUser() user: AuthenticatedUser, @Param() params: DatasetIdParams): Promise<DatasetDto> {
    return this.datasets.get(user, params.id);
  }
}
