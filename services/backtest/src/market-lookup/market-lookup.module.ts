import { Module } from '@nestjs/common';
import { MarketLookupController } from './market-lookup.controller.js';
import { MarketLookupService } from './market-lookup.service.js';

@Module({ controllers: [MarketLookupController], providers: [MarketLookupService] })
export class MarketLookupModule {}
