import { Module } from '@nestjs/common';
import { MarketLookupController } from './market-lookup.controller.js';
import { MarketLookupService } from './market-lookup.service.js';
import { UniversePreviewService } from './universe-preview.service.js';

@Module({ controllers: [MarketLookupController], providers: [MarketLookupService, UniversePreviewService] })
export class MarketLookupModule {}
