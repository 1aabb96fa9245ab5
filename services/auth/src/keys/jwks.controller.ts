import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccessTokenVerifier, Public } from '@stocklab/platform';
import type { JWK } from 'jose';

@ApiTags('keys')
@Controller('.well-known')
export class JwksController {
  constructor(@Inject(AccessTokenVerifier) private readonly verifier: AccessTokenVerifier) {}

  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOkResponse({ description: 'the public keys access tokens are verified with (RFC 7517)' })
  jwks(): { keys: JWK[] } {
    return { keys: this.verifier.verificationKeys.map((k) => k.jwk) };
  }
}
