import { DynamicModule, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, Reflector } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import type { Logger } from 'pino';
import type { Runtime } from '@twostep/app';
import { AccountRunner } from './accounts/account-runner';
import { ReadModels } from './accounts/read-models';
import { ApiKeyGuard } from './http/auth.guard';
import { ErrorFilter } from './http/error.filter';
import { Metrics, ObservabilityController } from './http/observability';
import { LOGGER, RUNTIME_PORTS } from './tokens';
import { AccountHistoryController } from './use-cases/account-history/account-history';
import { AuditEventsController } from './use-cases/audit-events/audit-events';
import { ConfirmTotpController, ConfirmTotpHandler } from './use-cases/confirm-totp/confirm-totp';
import { DisableTwoFactorController, DisableTwoFactorHandler } from './use-cases/disable-two-factor/disable-two-factor';
import { GetStatusController } from './use-cases/get-status/get-status';
import { ListTrustedDevicesController } from './use-cases/list-trusted-devices/list-trusted-devices';
import { PasskeyLoginController, PasskeyAssertionOptionsHandler, VerifyPasskeyHandler } from './use-cases/passkeys/passkey-login';
import { PasskeyManagementController, RemovePasskeyHandler } from './use-cases/passkeys/passkey-management';
import { PasskeyRegistrationController, PasskeyRegistrationOptionsHandler, RegisterPasskeyHandler } from './use-cases/passkeys/passkey-registration';
import { RecordPasswordResetController, RecordPasswordResetHandler } from './use-cases/record-password-reset/record-password-reset';
import { RegenerateRecoveryCodesController, RegenerateRecoveryCodesHandler } from './use-cases/regenerate-recovery-codes/regenerate-recovery-codes';
import { ResellerDisableController, ResellerDisableHandler } from './use-cases/reseller-disable/reseller-disable';
import { ResendCodeController, ResendCodeHandler } from './use-cases/resend-code/resend-code';
import { RevokeTrustedDeviceController, RevokeTrustedDeviceHandler } from './use-cases/revoke-trusted-device/revoke-trusted-device';
import { SetupTotpController, SetupTotpHandler } from './use-cases/setup-totp/setup-totp';
import { StartChallengeController, StartChallengeHandler } from './use-cases/start-challenge/start-challenge';
import { TenantPolicyController, UpdatePolicyHandler } from './use-cases/tenant-policy/tenant-policy';
import { UnlockAccountController, UnlockAccountHandler } from './use-cases/unlock-account/unlock-account';
import { UseRecoveryCodeController, UseRecoveryCodeHandler } from './use-cases/use-recovery-code/use-recovery-code';
import { VerifyChallengeController, VerifyChallengeHandler } from './use-cases/verify-challenge/verify-challenge';

/**
 * Routes to add after the controllers' (Nest calls onModuleInit once it has registered them, and
 * adds its not-found handler after): express tries routes in order, so rarely used ones go last.
 */
@Injectable()
export class LateRoutes implements OnModuleInit {
  private readonly pending: (() => void)[] = [];

  add(register: () => void): void {
    this.pending.push(register);
  }

  onModuleInit(): void {
    for (const register of this.pending.splice(0)) register();
  }
}

@Module({})
export class ApiModule {
  static register(runtime: Runtime, logger: Logger): DynamicModule {
    return {
      module: ApiModule,
      imports: [CqrsModule.forRoot(), TerminusModule.forRoot({ logger: false })],
      // Express tries routes in registration order: the login's two routes (most of the traffic) first.
      controllers: [
        StartChallengeController,
        VerifyChallengeController,
        GetStatusController,
        SetupTotpController,
        ConfirmTotpController,
        RegenerateRecoveryCodesController,
        DisableTwoFactorController,
        ResellerDisableController,
        UnlockAccountController,
        ListTrustedDevicesController,
        RevokeTrustedDeviceController,
        PasskeyLoginController,
        PasskeyRegistrationController,
        PasskeyManagementController,
        RecordPasswordResetController,
        UseRecoveryCodeController,
        ResendCodeController,
        AccountHistoryController,
        AuditEventsController,
        TenantPolicyController,
        ObservabilityController,
      ],
      providers: [
        ...RUNTIME_PORTS.map(({ token, field }) => ({ provide: token, useValue: runtime[field] })),
        { provide: LOGGER, useValue: logger },
        AccountRunner,
        ReadModels,
        LateRoutes,
        Metrics,
        { provide: APP_GUARD, useFactory: (reflector: Reflector) => new ApiKeyGuard(reflector, runtime.secrets.apiKeys, logger), inject: [Reflector] },
        { provide: APP_FILTER, useFactory: () => new ErrorFilter(logger, runtime.clock) },
        SetupTotpHandler,
        ConfirmTotpHandler,
        RegenerateRecoveryCodesHandler,
        DisableTwoFactorHandler,
        ResellerDisableHandler,
        UnlockAccountHandler,
        RevokeTrustedDeviceHandler,
        RecordPasswordResetHandler,
        StartChallengeHandler,
        VerifyChallengeHandler,
        UseRecoveryCodeHandler,
        ResendCodeHandler,
        UpdatePolicyHandler,
        PasskeyRegistrationOptionsHandler,
        RegisterPasskeyHandler,
        RemovePasskeyHandler,
        PasskeyAssertionOptionsHandler,
        VerifyPasskeyHandler,
      ],
    };
  }
}
