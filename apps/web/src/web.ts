import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { twostepClient } from '@twostep/client';
import { adminRoutes } from './admin';
import { html, page } from './html';
import { managerRoutes } from './manager';
import { mountPasskeyScript } from './passkeys';
import { portalRoutes } from './portal';
import { Sessions } from './sessions';
import { DEMO_SIGN_INS, UserStore } from './users';

/**
 * The reference web app: the screens of both seeds, standing in for the commerce platform. It
 * keeps its own demo users (hashed passwords) and sessions, and talks to twostep only through
 * @twostep/client from this server: the API keys never reach the browser.
 */
export interface WebOptions {
  /** Where twostep's api answers. */
  apiUrl: string;
  /** One key per role the screens act with (portal: logins and settings; operator: Storefront Manager; admin: the Admin Console). */
  keys: { portal: string; operator: string; admin: string };
  /** Stores the Admin Console lists (tenants); the demo users live in store-1 and store-2. */
  stores?: readonly string[];
}

export function createWebApp(options: WebOptions): express.Express {
  const client = (apiKey: string) => twostepClient({ baseUrl: options.apiUrl, apiKey });
  const users = new UserStore();
  const app = express();
  app.disable('x-powered-by');
  app.use((_request, response, next) => {
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Frame-Options', 'DENY');
    response.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: '8kb' }));
  // The passkey screens post the browser's WebAuthn answers as JSON (with _csrf, like every form).
  app.use(express.json({ limit: '32kb' }));
  mountPasskeyScript(app);
  app.use(new Sessions().middleware());
  app.get('/', (_request, response) => {
    response.send(
      page(
        'twostep demo platform',
        'twostep',
        html`<p>Three sites of a commerce platform, with their second step from twostep:</p>
          <ul>
            <li><a href="/login">Storefront customer portal</a>: sign in, Account → Settings (authenticator app), recovery codes, Forgot password</li>
            <li><a href="/manager">Storefront Manager</a>: customers, their Two-Factor Authentication field, Disable, Unlock, event log</li>
            <li><a href="/admin">Admin Console</a>: Two Factor Authentication Settings, global and per store (email codes)</li>
          </ul>
          <h2>Demo sign-ins</h2>
          <table><thead><tr><th>Site</th><th>Username</th><th>Password</th></tr></thead><tbody>
            ${DEMO_SIGN_INS.map((user) => html`<tr><td>${user.area}</td><td>${user.username}</td><td><code>${user.password}</code></td></tr>`)}
          </tbody></table>`,
      ),
    );
  });
  app.use(portalRoutes(users, client(options.keys.portal)));
  app.use(managerRoutes(users, client(options.keys.operator)));
  app.use(adminRoutes(users, client(options.keys.portal), client(options.keys.admin), options.stores ?? ['store-1', 'store-2']));
  app.use((_request, response) => {
    response.status(404).send(page('Not found', 'twostep', html`<p><a href="/">Start page</a></p>`));
  });
  app.use((error: Error, _request: Request, response: Response, _next: NextFunction) => {
    response.status(502).send(page('Something went wrong', 'twostep', html`<p class="error" role="alert">twostep could not be reached or refused unexpectedly: ${error.message}</p>`));
  });
  return app;
}

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

export async function startWeb(options: WebOptions & { port: number; host: string }): Promise<WebServer> {
  const app = createWebApp(options);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port, options.host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const { address, port } = server.address() as { address: string; port: number };
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
