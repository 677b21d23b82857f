/** Server-rendered HTML: every interpolated value goes through `escape`. */
export function escape(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Marks already-safe HTML (built from escaped parts) so `page` does not escape it twice. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, index) => {
    const part = Array.isArray(value) ? value.map((item) => (item instanceof Html ? item.value : escape(item))).join('') : value instanceof Html ? value.value : escape(value);
    out += part + strings[index + 1]!;
  });
  return new Html(out);
}

const STYLE = `
  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  body { margin: 0; }
  header { background: #243447; color: #fff; padding: .75rem 1.5rem; display: flex; gap: 1.5rem; align-items: center; }
  header a { color: #fff; }
  main { max-width: 44rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem 2rem; border-radius: 8px; box-shadow: 0 1px 3px #0002; }
  label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
  input[type=text], input[type=password], input[type=number] { font-size: 1rem; padding: .4rem .5rem; width: 16rem; }
  button, .button { font-size: 1rem; padding: .45rem 1rem; margin-top: .75rem; cursor: pointer; border-radius: 4px; border: 1px solid #243447; background: #243447; color: #fff; text-decoration: none; display: inline-block; }
  button.secondary { background: #fff; color: #243447; }
  button.danger { background: #b42318; border-color: #b42318; }
  .error { color: #b42318; font-weight: 600; }
  .notice { background: #ecfdf3; border: 1px solid #6ce9a6; padding: .6rem .8rem; border-radius: 4px; }
  .warning { background: #fffaeb; border: 1px solid #fec84b; padding: .6rem .8rem; border-radius: 4px; }
  .field-error { color: #b42318; margin-left: .5rem; }
  .hint { color: #555; font-weight: normal; font-size: .9rem; }
  code.key { font-size: 1.1rem; letter-spacing: .05em; }
  ol.codes { columns: 2; font-family: ui-monospace, monospace; font-size: 1.05rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7ec; vertical-align: top; }
  dialog { border: 1px solid #999; border-radius: 8px; padding: 1.25rem 1.5rem; }
  nav.tabs a { margin-right: 1rem; }
  nav.tabs a[aria-current=page] { font-weight: 700; }
`;

export function page(title: string, area: string, body: Html, nav: Html = html``): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · ${escape(area)}</title><style>${STYLE}</style></head>
<body><header><strong>${escape(area)}</strong>${nav.value}</header>
<main><h1>${escape(title)}</h1>${body.value}</main></body></html>`;
}

/** A form field's error, announced to screen readers. */
export const fieldError = (message: string | undefined, id: string) => (message ? html`<span class="field-error" id="${id}" role="alert">${message}</span>` : html``);

/** The one-time message of a page (`#flash`): an error is announced at once, a notice politely. */
export const flashMessage = (flash: { kind: 'notice' | 'error'; text: string } | undefined) =>
  flash ? html`<p class="${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}" id="flash">${flash.text}</p>` : html``;

/** The password step of every site: username and password, posted to `action`. */
export const signInForm = (action: string, csrf: string) => html`
  <form method="post" action="${action}">
    <input type="hidden" name="_csrf" value="${csrf}">
    <label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required autofocus>
    <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>`;
