import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches, ValidateIf } from 'class-validator';

export class ClientOrderIdParamDto {
  @ApiProperty({ description: "the order's client order id (as the orders list shows it)" })
  @Matches(/^[0-9a-f]{32}$/, { message: 'clientOrderId must be 32 lowercase hex characters' })
  clientOrderId: string;
}

export class SettleReviewDto {
  @ApiProperty({
    enum: ['adopt', 'absent'],
    description:
      "adopt: this broker order is the intent's (booked at the next reconciliation); absent: the broker holds none of it (it ends expired, the strategy decides again)",
  })
  @IsIn(['adopt', 'absent'])
  resolution: 'adopt' | 'absent';

  @ApiPropertyOptional({ example: '0000138', description: "adopt: the broker's order number" })
  @ValidateIf((o: SettleReviewDto) => o.resolution === 'adopt')
  @IsOptional()
  @Matches(/^\d{1,20}$/, { message: 'brokerOrderId must be the digits of an order number' })
  brokerOrderId?: string;
}
