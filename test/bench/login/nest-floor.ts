/**
 * The NestJS floor: the same @nestjs packages on express, two POST routes shaped like twostep's
 * login (JSON body in, small JSON out), nothing else. What a login cannot cost less than in Nest.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

@Controller('v1/tenants/:tenantId/accounts/:userId')
class LoginController {
  @Post('challenges')
  @HttpCode(200)
  start() {
    return { required: true, challengeId: randomUUID(), method: 'totp', expiresAt: new Date(Date.now() + 300_000).toISOString() };
  }

  @Post('challenges/:challengeId/verify')
  @HttpCode(200)
  verify(@Param('challengeId') _challengeId: string, @Body() body: { code?: string }) {
    return { verified: typeof body.code === 'string' };
  }
}

@Module({ controllers: [LoginController] })
class FloorModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(FloorModule, { logger: false });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  process.stdout.write(`listening ${(app.getHttpServer().address() as { port: number }).port}\n`);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
