/** Read models: what the HTTP queries return. No secrets, no hashes, only masked addresses. */
export interface StatusView {
  tenantId: string;
  userId: string;
  status: 'Enabled' | 'Disabled';
  /** Stored views record only 'totp'; 'email' is presented on read where the tenant policy requires email codes. */
  method: 'totp' | 'email' | null;
  /** Every way a login can be answered: `totp`, then `webauthn` with a passkey; `email` is presented on read, as `method` is (absent in a view stored before passkeys: presented from the rest). */
  methods?: ('totp' | 'webauthn' | 'email')[];
  setupPending: boolean;
  recoveryCodesRemaining: number;
  resetRecommended: boolean;
  failedAttempts: number;
  lockedUntil: string | null;
  trustedDevices: TrustedDeviceView[];
  /** The account's passkeys, oldest first (absent in a view stored before passkeys: presented as none). */
  passkeys?: PasskeyView[];
  lastCodeSent: { to: string; at: string; expiresAt: string } | null;
  enabledAt: string | null;
  passwordResetAt: string | null;
  /** Time of the last event; null for an account with none. */
  updatedAt: string | null;
  /** Stream revision this view was built from; only revision + 1 is applied next. */
  revision: number;
}

/** A remembered device as people see it: never its token or the token's hash. */
export interface TrustedDeviceView {
  deviceId: string;
  /** What the caller said the device is at verify ("Firefox on Linux"); null when it said nothing. */
  label: string | null;
  /** When it was remembered (the DeviceTrusted event's time); null only in a view stored before twostep recorded it (a rebuild fills it). */
  createdAt: string | null;
  expiresAt: string;
}

/** A passkey as people see it: its id, name and use; never the credential's public key. */
export interface PasskeyView {
  passkeyId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface EventLogEntry {
  position: number;
  revision: number;
  eventId: string;
  at: string;
  type: string;
  what: string;
  /** Who did it; `apiKeyId` is the API key the request came with (absent for twostep's own events). */
  actor: { kind: string; id?: string; apiKeyId?: string };
}
