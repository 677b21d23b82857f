/** Enough to recognise one's own address, too little to learn someone else's. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : '';
  const domain = at > 0 ? email.slice(at + 1) : '';
  const dot = domain.lastIndexOf('.');
  // Not a plausible address: reveal nothing rather than guess.
  if (!local || dot <= 0 || dot === domain.length - 1) return '***';
  return `${[...local][0]}***@${[...domain][0]}***${domain.slice(dot)}`;
}
