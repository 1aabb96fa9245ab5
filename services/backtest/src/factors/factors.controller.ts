import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '@stocklab/platform';
import { FACTOR_CATALOG, FACTOR_CATEGORIES } from '@stocklab/strategy-engine';
import { FactorCategoryDto, FactorDto } from './dto/factor.dto.js';

const FACTORS: FactorDto[] = FACTOR_CATALOG.map(
  ({ id, name, nameKo, description, unit, kind, category, lookbackDays }) => ({
    id,
    name,
    nameKo,
    description,
    unit,
    kind,
    category,
    lookbackDays,
  }),
);

const CATEGORIES: FactorCategoryDto[] = FACTOR_CATEGORIES.map(({ id, name, nameKo }) => ({
  id,
  name,
  nameKo,
  factors: FACTOR_CATALOG.filter((f) => f.category === id).map((f) => f.id),
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

  @Public()
  @Get('categories')
  @ApiOkResponse({ type: [FactorCategoryDto], description: 'the groups a builder shows the factors in' })
  categories(): FactorCategoryDto[] {
    return CATEGORIES;
  }
}
