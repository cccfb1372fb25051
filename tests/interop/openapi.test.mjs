// docs/openapi.yaml checked by a published OpenAPI validator, and the document the server
// serves at GET /openapi.json compared with the YAML as JavaScript's `yaml` package reads it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { apiClient, loadPackages, openApiYamlPath, startServer } from "./harness.mjs";

const { Validator, parseYaml } = await loadPackages();
const document = parseYaml(readFileSync(openApiYamlPath, "utf8"));

describe("the OpenAPI document", { timeout: 60000 }, () => {
  let server;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
  });

  test("is a valid OpenAPI 3.1 document whose references all resolve", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.deepEqual(result.errors, undefined);
    assert.equal(result.valid, true);
    assert.equal(validator.version, "3.1");
    assert.doesNotThrow(() => validator.resolveRefs());
  });

  test("GET /openapi.json, without a key, is the YAML document as JSON plus the catalog", async () => {
    const served = await apiClient(server.baseUrl, null)("GET", "/openapi.json", undefined, 200);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(served));
    assert.deepEqual(result.errors, undefined);
    assert.doesNotThrow(() => validator.resolveRefs());

    // What the server adds from its catalog (a fresh server: the 12 built-in types).
    const schemas = served.components.schemas;
    const payloads = Object.keys(schemas).filter((name) => name.endsWith("Payload"));
    assert.equal(payloads.length, 12);
    assert.deepEqual(
      schemas.EventCreate.allOf.map((rule) => rule.then.properties.payload.$ref),
      schemas.EventName.enum.map((name) => `#/components/schemas/${name}Payload`),
    );
    for (const name of payloads) delete schemas[name];
    delete schemas.EventCreate.allOf;
    assert.deepEqual(served, document);
  });
});
