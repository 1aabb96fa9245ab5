import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { DomainError, Roles } from '@stocklab/platform';
import { CalendarService } from './calendar.service.js';
import { HolidayDateParamDto, HolidayResponseDto, ListHolidaysQueryDto, PutHolidayDto } from './dto/holiday.dto.js';
import { isIsoDate } from './trading-calendar.js';

function validDate(date: string): string {
  if (!isIsoDate(date)) {
    throw new DomainError(400, 'INVALID_DATE', `${date} is not a calendar date`);
  }
  return date;
}

@ApiTags('calendar')
@ApiBearerAuth()
@Controller('calendar/holidays')
export class CalendarController {
  constructor(private readonly calendar: CalendarService) {}

  @Get()
  @ApiOkResponse({ type: [HolidayResponseDto] })
  list(@Query() query: ListHolidaysQueryDto): Promise<HolidayResponseDto[]> {
    return this.calendar.list(query.year);
  }

  @Roles('admin')
  @Put(':date')
  @ApiOkResponse({ type: HolidayResponseDto })
  put(@Param() params: HolidayDateParamDto, @Body() body: PutHolidayDto): Promise<HolidayResponseDto> {
    return this.calendar.upsert(validDate(params.date), body.name);
  }

  @Roles('admin')
  @Delete(':date')
  @HttpCode(204)
  @ApiNoContentResponse()
  remove(@Param() params: HolidayDateParamDto): Promise<void> {
    return this.calendar.remove(validDate(params.date));
  }
}
