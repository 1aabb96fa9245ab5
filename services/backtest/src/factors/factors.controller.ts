import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '@stocklab/platform';
import { FACTOR_CATALOG } from '@stocklab/strategy-engine';
import { FactorDto } from './dto/factor.dto.js';

const FACTORS: FactorDto[] = FACTOR_CATALOG.map(({ id, name, description, unit, kind, lookbackDays }) => ({
  id,
  name,
  description,
  unit,
  kind,
  lookbackDays,
}));

/** The factor catalog strategies may reference: static documentation, so public. */
@ApiTags('factors')
@Controller('factors')
export class FactorsController {
  @Public()
  @Get()
  @ApiOkResponse({ type: [FactorDto] })
  list(): FactorDto[] {
    return FACTORS;
  }
}
