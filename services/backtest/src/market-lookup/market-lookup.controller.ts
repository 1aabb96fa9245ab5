import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import {
  MarketStatusDto,
  SecuritiesPageDto,
  SecuritiesQueryDto,
  SectorsDto,
  SectorsQueryDto,
} from './dto/market-lookup.dto.js';
import { MarketLookupService } from './market-lookup.service.js';

/** The market as a strategy builder browses it; for signed-in users (the data may be licensed). */
@ApiTags('market')
@ApiBearerAuth()
@Controller('market')
export class MarketLookupController {
  constructor(private readonly lookup: MarketLookupService) {}

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
}
