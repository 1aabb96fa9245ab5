import { ApiProperty } from '@nestjs/swagger';

export class PortfolioPositionDto {
  @ApiProperty() code: string;
  @ApiProperty() quantity: number;
  @ApiProperty({ description: 'KRW paid' }) cost: number;
  @ApiProperty({ nullable: true, type: Number }) lastPrice: number | null;
  @ApiProperty() marketValue: number;
  @ApiProperty() unrealizedPnl: number;
}

export class PortfolioDto {
  @ApiProperty({ format: 'uuid' }) accountId: string;
  @ApiProperty({ description: 'trading date the prices are taken at (latest close on or before it)' }) asOf: string;
  @ApiProperty({ description: 'KRW: free cash + cash held by auto strategies' }) cash: number;
  @ApiProperty() freeCash: number;
  @ApiProperty() strategyCash: number;
  @ApiProperty() marketValue: number;
  @ApiProperty() totalValue: number;
  @ApiProperty() initialCash: number;
  @ApiProperty() pnl: number;
  @ApiProperty() pnlRate: number;
  @ApiProperty({ type: [PortfolioPositionDto] }) positions: PortfolioPositionDto[];
}
