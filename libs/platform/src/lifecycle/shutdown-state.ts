import { Injectable } from '@nestjs/common';

/** Flipped the moment SIGTERM arrives; readiness reads it so the load balancer stops sending traffic. */
@Injectable()
export class ShutdownState {
  private startedAt: number | undefined;

  begin(): void {
    this.startedAt ??= Date.now();
  }

  get shuttingDown(): boolean {
    return this.startedAt !== undefined;
  }
}
