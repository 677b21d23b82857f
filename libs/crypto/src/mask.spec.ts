import { maskEmail } from './index';

describe('maskEmail', () => {
  it.each([
    ['jane.doe@example.com', 'j***@e***.com'],
    ['a@b.io', 'a***@b***.io'],
    ['John.Smith@mail.example.co.uk', 'J***@m***.uk'],
    ['x+tag@sub.domain.org', 'x***@s***.org'],
  ])('%s -> %s', (email, masked) => {
    expect(maskEmail(email)).toBe(masked);
  });

  it('reveals nothing for values that are not addresses', () => {
    for (const bad of ['', 'jane', '@example.com', 'jane@', 'jane@localhost', 'jane@example.']) {
      expect(maskEmail(bad)).toBe('***');
    }
  });

  it('never reveals more than the first characters and the TLD', () => {
    const masked = maskEmail('secretname@privatecompany.net');
    expect(masked).toBe('s***@p***.net');
    expect(masked).not.toContain('ecret');
    expect(masked).not.toContain('rivate');
  });
});
