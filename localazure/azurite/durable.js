// Preloaded (NODE_OPTIONS=--require) into azurite-blob by localazure/azurite.
//
// Azurite writes a blob's bytes to its extent files and fdatasyncs them before it
// answers, but keeps the metadata that makes them a blob (containers, blobs,
// blocks, the extent index) in LokiJS databases that it saves every 5 seconds. A
// kill -9 inside that window loses blobs that were acknowledged: the bytes are on
// disk, the blob is not. This makes each metadata change durable before the
// answer: after any metadata store method whose promise leaves the database
// changed, the whole database is written to a temporary file, fsynced, renamed
// over the old one and the folder fsynced; concurrent requests share one save
// (group commit). Any other answer, a refusal included, waits for a save in flight,
// so that no request is told about a change that is not on disk yet. Loki's timer save is turned off so that only one writer
// touches the file. With --inMemoryPersistence nothing changes.
"use strict";
const fs = require("fs");
const path = require("path");

const dist = path.join(__dirname, "node_modules", "azurite", "dist", "src");
const stores = [
  path.join(dist, "blob", "persistence", "LokiBlobMetadataStore.js"),
  path.join(dist, "common", "persistence", "LokiExtentMetadataStore.js"),
];

// writeSynced replaces file with data so that a crash leaves the old or the new
// content, never a mix, and the new content is on disk when it resolves.
async function writeSynced(file, data) {
  const tmp = file + ".localazure~";
  const fh = await fs.promises.open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  const dir = await fs.promises.open(path.dirname(file), "r");
  try {
    await dir.sync();
  } catch (e) {
    if (process.platform !== "win32") throw e; // Windows cannot sync a folder
  } finally {
    await dir.close();
  }
}

// saver returns save(): it resolves once everything changed before the call is
// on disk. A call during a save waits for the next one, which all such calls share.
function saver(db) {
  let running = null;
  let next = null;
  const once = async () => {
    const data = db.serialize();
    db.autosaveClearFlags(); // changes made during the write mark it dirty again
    try {
      await writeSynced(db.filename, data);
    } catch (e) {
      for (const c of db.collections) c.dirty = true;
      throw e;
    }
  };
  const save = () => {
    if (!running) {
      running = once().finally(() => {
        running = null;
      });
      return running;
    }
    if (!next) {
      next = running.catch(() => {}).then(() => {
        next = null;
        return save();
      });
    }
    return next;
  };
  // inflight is the save being written, if any.
  save.inflight = () => running;
  return save;
}

// settle resolves once what the caller may have seen is on disk. A change of its
// own (the database is dirty) needs a save. A read, or a refusal such as "the blob
// already exists", may have seen another request's change that a save in flight is
// writing: it waits for that save, or a second delivery of a message could take a
// blob that a kill -9 then loses for one that is there. (A change made after that
// save serialized the database marks it dirty again, so it is the first case.)
async function settle(store) {
  const save = durable(store);
  if (!save) return;
  if (store.db.autosaveDirty()) {
    await save();
    return;
  }
  const inflight = save.inflight();
  if (inflight) await inflight.catch(() => {});
}

const savers = new WeakMap();

function durable(store) {
  const db = store.db;
  if (!db || db.persistenceMethod !== "fs") return null;
  let save = savers.get(db);
  if (!save) {
    db.autosaveDisable();
    save = saver(db);
    savers.set(db, save);
  }
  return save;
}

for (const file of stores) {
  let mod;
  try {
    mod = require(file);
  } catch (e) {
    continue; // another Azurite layout: azurite_test.go fails on it, Azurite still runs
  }
  const proto = mod.default && mod.default.prototype;
  if (!proto) continue;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const orig = proto[name];
    if (name === "constructor" || typeof orig !== "function") continue;
    proto[name] = function (...args) {
      const result = orig.apply(this, args);
      if (!result || typeof result.then !== "function") return result; // sync helpers stay sync
      return result.then(
        async (value) => {
          await settle(this);
          return value;
        },
        async (err) => {
          await settle(this);
          throw err;
        },
      );
    };
  }
  proto.__localazureDurable = true;
}
