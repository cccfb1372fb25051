// webhookd's deliveries, checked by verifiers nobody here wrote: the published
// `standardwebhooks` and `svix` npm packages must accept every real delivery (also during a
// secret rotation, with the old and with the new secret) and reject tampered copies.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { apiClient, loadPackages, startReceiver, startServer, waitFor } from "./harness.mjs";

const { StandardWebhook, SvixWebhook } = await loadPackages();

const verifiers = {
  standardwebhooks: (secret) => new StandardWebhook(secret),
  svix: (secret) => new SvixWebhook(secret),
};

function assertAccepted(secret, delivery, why) {
  for (const [library, make] of Object.entries(verifiers)) {
    assert.doesNotThrow(
      () => make(secret).verify(delivery.body, delivery.headers),
      `${library} rejected ${why}`,
    );
  }
}

function assertRejected(secret, delivery, why) {
  for (const [library, make] of Object.entries(verifiers)) {
    assert.throws(
      () => make(secret).verify(delivery.body, delivery.headers),
      /No matching signature|Missing required headers|Invalid Signature Headers/,
      `${library} accepted ${why}`,
    );
  }
}

// Changes one character of `text` at `index` into another character of the same class.
function changeOneCharacter(text, index) {
  const c = text[index];
  const replacement = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : c === "a" ? "b" : "a";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

function tamperedCopies(delivery) {
  const headers = delivery.headers;
  // Every signature changed: during a rotation one intact signature would still match.
  const changedSignatures = headers["webhook-signature"]
    .split(" ")
    .map((signature) => changeOneCharacter(signature, signature.indexOf(",") + 3))
    .join(" ");
  return {
    "a body with one byte changed": {
      headers,
      body: changeOneCharacter(delivery.body, Math.floor(delivery.body.length / 2)),
    },
    "a changed webhook-id": {
      headers: { ...headers, "webhook-id": changeOneCharacter(headers["webhook-id"], 6) },
      body: delivery.body,
    },
    // One second off stays inside the 5-minute tolerance: only the signature can catch it.
    "a changed webhook-timestamp": {
      headers: { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) - 1) },
      body: delivery.body,
    },
    "changed signatures": {
      headers: { ...headers, "webhook-signature": changedSignatures },
      body: delivery.body,
    },
    "a missing signature": {
      headers: { ...headers, "webhook-signature": undefined },
      body: delivery.body,
    },
  };
}

describe("deliveries verified by standardwebhooks and svix", { timeout: 120000 }, () => {
  let server;
  let receiver;
  let api;
  const configs = new Map(); // receiver path -> configuration
  let eventTypes;

  before(async () => {
    receiver = await startReceiver();
    server = await startServer();
    api = apiClient(server.baseUrl, server.adminKey);
    eventTypes = (await api("GET", "/event-types", undefined, 200)).data;
    assert.equal(eventTypes.length, 12);
    for (const type of eventTypes) {
      const path = `/hooks/${type.name}`;
      const config = await api(
        "POST",
        "/external-events",
        { organizationId: 1, name: `interop ${type.name}`, url: receiver.url + path, eventName: type.name },
        201,
      );
      assert.match(config.secret, /^whsec_/);
      configs.set(path, config);
    }
  });

  after(async () => {
    await server?.stop();
    await receiver?.stop();
  });

  test("every event type's delivery verifies, and tampered copies do not", async () => {
    const events = new Map(); // event id -> event type name
    for (const type of eventTypes) {
      const accepted = await api(
        "POST",
        "/events",
        { organizationId: 1, eventName: type.name, payload: type.sample },
        202,
      );
      assert.equal(accepted.deliveries.length, 1);
      events.set(accepted.id, type.name);
    }
    await waitFor("12 deliveries", () => receiver.received.length >= 12);
    assert.equal(receiver.received.length, 12);
    for (const delivery of receiver.received) {
      const config = configs.get(delivery.path);
      assert.ok(config, `a delivery to an unknown path ${delivery.path}`);
      assert.equal(delivery.headers["x-webhook-event"], config.eventName);
      assert.equal(events.get(delivery.headers["webhook-id"]), config.eventName);
      assert.match(delivery.headers["webhook-signature"], /^v1,[A-Za-z0-9+/]{43}=$/);
      assertAccepted(config.secret, delivery, `the ${config.eventName} delivery`);
      for (const [why, copy] of Object.entries(tamperedCopies(delivery))) {
        assertRejected(config.secret, copy, `${why} (${config.eventName})`);
      }
      const otherSecret = [...configs.values()].find((c) => c.id !== config.id).secret;
      assertRejected(otherSecret, delivery, "another configuration's secret");
    }
    for (const id of events.keys()) {
      await waitFor(`event ${id} delivered`, async () => {
        const event = await api("GET", `/events/${id}`, undefined, 200);
        return event.deliveries.every((d) => d.status === "succeeded");
      });
    }
  });

  test("during a rotation both libraries accept the old and the new secret", async () => {
    const type = eventTypes.find((t) => t.name === "BookAppointment");
    const path = `/hooks/${type.name}`;
    const before = configs.get(path);
    const rotated = await api(
      "POST",
      `/external-events/${before.id}/secret/rotate`,
      { expiresInSeconds: 600 },
      200,
    );
    assert.notEqual(rotated.secret, before.secret);
    assert.ok(rotated.previousSecretExpiresAt);

    const seen = receiver.received.length;
    const accepted = await api(
      "POST",
      "/events",
      { organizationId: 1, eventName: type.name, payload: type.sample },
      202,
    );
    const delivery = await waitFor("the delivery after the rotation", () =>
      receiver.received.slice(seen).find((d) => d.headers["webhook-id"] === accepted.id),
    );
    const signatures = delivery.headers["webhook-signature"].split(" ");
    assert.equal(signatures.length, 2, "two signatures during the rotation");
    assertAccepted(before.secret, delivery, "the old secret during the rotation");
    assertAccepted(rotated.secret, delivery, "the new secret during the rotation");
    for (const [why, copy] of Object.entries(tamperedCopies(delivery))) {
      assertRejected(before.secret, copy, `${why} (old secret)`);
      assertRejected(rotated.secret, copy, `${why} (new secret)`);
    }
    for (const signature of signatures) {
      const single = { ...delivery, headers: { ...delivery.headers, "webhook-signature": signature } };
      const acceptedBy = [before.secret, rotated.secret].filter((secret) => {
        try {
          new StandardWebhook(secret).verify(single.body, single.headers);
          return true;
        } catch {
          return false;
        }
      });
      assert.equal(acceptedBy.length, 1, "each signature belongs to exactly one secret");
    }
  });
});
