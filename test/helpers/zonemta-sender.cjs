'use strict';
// ZoneMTA's own sender (lib/sender.js with its plugin system, mx-connect, SMTP client and bounce rules),
// run as ZoneMTA's services/sender.js runs it, but fed by an in-memory queue instead of the queue server
// and MongoDB (which cannot run here). The queue answers the sender's commands (GET, DEFER, RELEASE,
// BOUNCE, the domain cache) the way ZoneMTA's queue server does and reports each one to the test.
//
// Environment: NODE_CONFIG_PATH (the ZoneMTA config file), ZONE (the sending zone). cwd: zone-mta's folder.

const path = require('node:path');
const { Readable } = require('node:stream');

const zoneMtaDir = process.cwd();
process.env.NODE_CONFIG_DIR = path.join(zoneMtaDir, 'config');
const zm = (name) => require(require.resolve(name, { paths: [zoneMtaDir] }));

const config = zm('wild-config');
const log = zm('npmlog');
log.level = config.log.level;
const { Headers } = zm('mailsplit');
const { SendingZone } = require(path.join(zoneMtaDir, 'lib/sending-zone'));
const plugins = require(path.join(zoneMtaDir, 'lib/plugins'));
plugins.init('sender');
const Sender = require(path.join(zoneMtaDir, 'lib/sender'));
const ConnectionPool = require(path.join(zoneMtaDir, 'lib/connection-pool'));

const zone = new SendingZone(process.env.ZONE, config.zones[process.env.ZONE], false);
const deliveries = [];
const bodies = new Map();
const cache = new Map();
let locks = 0;

const report = (cmd, fields) => process.send({ cmd, ...fields });
// The plugin's checks, as ChildHost's CheckReport.
require('node:diagnostics_channel').subscribe('smtp-intercept:check:result', ({ attempt }) =>
  process.send({ check: { recipient: attempt.recipient, phase: attempt.phase, tls: 'tls' in attempt ? attempt.tls : 'absent' } }));

// A message as ZoneMTA's receiver queues it: headers in the message meta, the body in storage, and
// one delivery per recipient (seq 001, 002...).
process.on('message', ({ id, from, to, message }) => {
  const split = message.indexOf('\r\n\r\n');
  const headers = new Headers(Buffer.from(message.slice(0, split + 4))).getList();
  bodies.set(id, Buffer.from(message.slice(split + 4)));
  to.forEach((recipient, i) => {
    const now = new Date();
    deliveries.push({
      id, seq: (i + 1).toString(16).padStart(3, '0'), domain: recipient.slice(recipient.lastIndexOf('@') + 1),
      sendingZone: zone.name, recipient, from, headers, bodySize: bodies.get(id).length,
      locked: false, queued: now, created: now,
      // The receiver's envelope fields kept in the message meta (the Received header uses them).
      transtype: 'ESMTP', transhost: 'client.sender.test', origin: '127.0.0.1', time: now.getTime(),
    });
  });
});

const take = (id, seq) => deliveries.find((d) => d.id === id && d.seq === seq);

function handle(cmd, reply) {
  const now = Date.now();
  switch (cmd.cmd) {
    case 'GET': {
      const next = deliveries.find((d) => !d.locked && d.queued.getTime() <= now);
      if (!next) return reply(null, false);
      next.locked = true;
      next._lock = `lock:${++locks}`;
      // What the queue server adds to each delivery it hands out.
      return reply(null, { ...structuredClone(next), disabledAddresses: [], dnsOptions: {}, logger: false });
    }
    case 'DEFER': {
      const d = take(cmd.id, cmd.seq);
      if (!d) return reply(null, false);
      report('DEFER', { id: cmd.id, seq: cmd.seq, recipient: d.recipient, ttl: cmd.ttl, response: cmd.response, category: cmd.category, address: cmd.address });
      d._deferred = { first: d._deferred?.first ?? now, last: now, next: now + cmd.ttl, count: (d._deferred?.count ?? 0) + 1, response: cmd.response };
      d.queued = new Date(now + cmd.ttl);
      d.locked = false;
      return reply(null, `${d.id}.${d.seq}`);
    }
    case 'RELEASE': {
      const d = take(cmd.id, cmd.seq);
      if (!d) return reply(null, false);
      deliveries.splice(deliveries.indexOf(d), 1);
      report('RELEASE', { id: cmd.id, seq: cmd.seq, recipient: d.recipient, status: cmd.status, address: cmd.address });
      return reply(null, `${d.id}.${d.seq}`);
    }
    case 'BOUNCE':
      // All of it: the test hands it to ZoneMTA's main-process bounce hooks, as the queue server does.
      report('BOUNCE', { ...cmd });
      return reply(null, true);
    case 'GETCACHE': {
      const hit = cache.get(cmd.key);
      return reply(null, hit && hit.expires > now ? hit.value : undefined);
    }
    case 'SETCACHE':
      cache.set(cmd.key, { value: cmd.value, expires: now + cmd.ttl });
      return reply(null, true);
    case 'CLEARCACHE':
      cache.delete(cmd.key);
      return reply(null, true);
    case 'COUNTMETRICS':
      return reply(null, true);
    default:
      return reply(new Error(`the test queue does not handle ${cmd.cmd}`));
  }
}

const sendCommand = (cmd, callback) => setImmediate(() => handle(typeof cmd === 'string' ? { cmd } : cmd, callback));
const queue = { retrieve: (id) => Readable.from([bodies.get(id)]) };

plugins.handler.queue = queue;
plugins.handler.load(() => {
  const connectionPool = new ConnectionPool(sendCommand);
  for (let i = 1; i <= zone.connections; i++) {
    const sender = new Sender('test-sender', i, zone, sendCommand, queue, connectionPool);
    sender.on('error', (err) => report('ERROR', { message: err.message }));
  }
  process.send({ ready: true, plugins: plugins.handler.loaded.map((p) => p.title) });
});
