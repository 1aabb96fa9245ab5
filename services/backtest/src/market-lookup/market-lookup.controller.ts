import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  MarketStatusDto,
  SecuritiesPageDto,
  SecuritiesQueryDto,
  SectorsDto,
  SectorsQueryDto,
} from './dto/market-lookup.dto.js';
import { UniversePreviewDto, UniversePreviewRequestDto } from './dto/universe-preview.dto.js';
import { MarketLookupService } from './market-lookup.service.js';
import { UniversePreviewService } from './universe-preview.service.js';

/** The market as a strategy builder browses it; for signed-in users (the data may be licensed). */
@ApiTags('market')
@ApiBearerAuth()
@Controller('market')
export class MarketLookupController {
  constructor(
    private readonly lookup: MarketLookupService,
    private readonly previews: UniversePreviewService,
  ) {}

  @Get('securities')
  @ApiOkResponse({ type: SecuritiesPageDto })
  securities(@Query() query: SecuritiesQueryDto): Promise<SecuritiesPageDto> {
    return this.lookup.securities(query);
  }

  @Get('sectors')
  @ApiOkResponse({ type: SectorsDto, description: 'markets and sectors with their listed securities on a date' })
  sectors(@Query() query: SectorsQueryDto): Promise<SectorsDto> {
    return this.lookup.sectors(query.date);
  }

  @Get('status')
  @ApiOkResponse({ type: MarketStatusDto })
  status(): Promise<MarketStatusDto> {
    return this.lookup.status();
  }

  /** A POST because a universe with its buy conditions is a tree, not a query string; it changes nothing. */
  @Post('universe-preview')
  @HttpCode(200)
  @ApiOkResponse({ type: UniversePreviewDto })
  @ApiResponse({ status: 503, description: 'PREVIEW_UNAVAILABLE: no process holding the market data answered in time' })
  preview(@Body() body: UniversePreviewRequestDto): Promise<UniversePreviewDto> {
    return this.previews.preview(body);
  }
}
