import { Module } from '@nestjs/common';
import { FactorsController } from './factors.controller.js';

@Module({ controllers: [FactorsController] })
export class FactorsModule {}
