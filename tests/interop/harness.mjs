// Shared by the interop tests: a real webhookd on a temporary SQLite database, a local HTTP
// receiver, and an API client. Every wait is bounded; the server is always stopped.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const here = new URL(".", import.meta.url).pathname;

// The published packages, loaded only after checking that `npm ci` ran, so that a missing
// install fails with instructions instead of a module resolution error.
export async function loadPackages() {
  if (!existsSync(join(here, "node_modules"))) {
    throw new Error(
      "tests/interop/node_modules is missing: run `make interop-deps` " +
        "(npm ci in tests/interop) before the interop tests",
    );
  }
  const [standardwebhooks, svix, validator, yaml] = await Promise.all([
    import("standardwebhooks"),
    import("svix"),
    import("@seriousme/openapi-schema-validator"),
    import("yaml"),
  ]);
  return {
    StandardWebhook: standardwebhooks.Webhook,
    SvixWebhook: svix.Webhook,
    Validator: validator.Validator,
    parseYaml: yaml.parse,
  };
}

export const openApiYamlPath = join(here, "..", "..", "docs", "openapi.yaml");

// Resolves with the value of `check()` once it is truthy; rejects after `timeoutMs`.
export async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Starts `webhookd serve` and resolves once it printed its address and first admin key.
export async function startServer() {
  const binary = process.env.WEBHOOKD_BINARY;
  if (!binary || !existsSync(binary)) {
    throw new Error("set WEBHOOKD_BINARY to the webhookd executable (ctest does)");
  }
  const dir = mkdtempSync(join(tmpdir(), "webhookd-interop-"));
  const child = spawn(
    binary,
    [
      "serve",
      "--listen", "127.0.0.1:0",
      "--db", `sqlite:${join(dir, "webhookd.db")}`,
      "--allow-insecure-urls",
      "--allow-target", "127.0.0.0/8",
      "--retry-schedule", "0s,1s",
      "--log-level", "warn",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", () => child.kill("SIGKILL"));
  try {
    const { baseUrl, adminKey } = await readStartupLines(child);
    return { baseUrl, adminKey, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function readStartupLines(child) {
  return new Promise((resolve, reject) => {
    let adminKey = null;
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("webhookd did not start within 20 s")), 20000);
    child.once("exit", (code) => reject(new Error(`webhookd exited with ${code} at start-up`)));
    lines.on("line", (line) => {
      const key = line.match(/Admin API key \(shown once\): (whk_[0-9a-f]+)/);
      if (key) adminKey = key[1];
      const listening = line.match(/^webhookd listening on (http:\/\/127\.0\.0\.1:\d+)$/);
      if (listening) {
        clearTimeout(timer);
        if (!adminKey) reject(new Error("webhookd printed no admin key"));
        else resolve({ baseUrl: listening[1], adminKey });
      }
    });
  });
}

// An HTTP client for the API that fails on unexpected statuses.
export function apiClient(baseUrl, key) {
  return async function call(method, path, body, expectedStatus) {
    const response = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await response.text();
    if (expectedStatus !== undefined && response.status !== expectedStatus) {
      throw new Error(`${method} ${path}: expected ${expectedStatus}, got ${response.status}: ${text}`);
    }
    return text ? JSON.parse(text) : null;
  };
}

// A receiver on 127.0.0.1:0 that records every request (headers and raw body) and answers 200.
export async function startReceiver() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"received":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
