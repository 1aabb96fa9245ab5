import { Injectable, type PipeTransform, type Type } from '@nestjs/common';
import { DomainError, validationPipe } from '@stocklab/platform';

/** What StrategyBodyPipe hands to the controller: the validated fields, and `definition` untouched. */
export type StrategyBody<T extends object> = T & { definition: unknown };

/**
 * Validates a strategy body in two parts. `definition` is taken aside first and passed on as it
 * came: class-transformer copies nested objects recursively, so a hostile definition (5,000
 * nested conditions, or 50,000 nested arrays, both well under the body limit) would overflow the
 * stack and answer 500 before parseStrategyDefinition, which is iterative and depth-limited,
 * could reject it with a 400. Every other field is validated with the platform's ValidationPipe
 * against a DTO class that does not declare `definition` (a declared class field exists on every
 * instance, and `forbidNonWhitelisted` would reject it).
 *
 * Type the parameter with StrategyBody<FieldsDto>, never a class: the global ValidationPipe skips
 * parameters whose design type is Object, and would otherwise walk the whole body first.
 */
@Injectable()
export class StrategyBodyPipe<T extends object> implements PipeTransform<unknown, Promise<StrategyBody<T>>> {
  private readonly validation = validationPipe();

  constructor(private readonly dto: Type<T>) {}

  async transform(value: unknown): Promise<StrategyBody<T>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new DomainError(400, 'VALIDATION_FAILED', 'The body must be a JSON object');
    }
    const { definition, ...fields } = value as Record<string, unknown>;
    const validated = (await this.validation.transform(fields, { type: 'body', metatype: this.dto })) as T;
    return { ...validated, definition };
  }
}
