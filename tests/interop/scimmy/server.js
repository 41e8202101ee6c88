// A SCIM 2.0 service provider on 127.0.0.1 for roster's interop tests. SCIMMY does the protocol
// (parsing, filters, PATCH, list paging); this file is only the storage SCIMMY leaves to its
// user: an in-memory map with the rules a real directory keeps (userName and displayName unique
// -> 409, group members must exist -> 400, User.groups filled, a deleted user leaves its groups).
//
//   SCIMMY_MODULES=<dir holding node_modules> PORT=0 SCIM_TOKEN=... node server.js
// prints "listening <port>" once it accepts connections. Base URL: http://127.0.0.1:<port>/scim/v2
"use strict";
const path = require("node:path");
const { createRequire } = require("node:module");
// The packages live where the install script put them, not beside this file.
const req = createRequire(path.join(process.env.SCIMMY_MODULES ?? __dirname, "package.json"));
const express = req("express");
const SCIMMY = req("scimmy").default ?? req("scimmy");
const SCIMMYRouters = req("scimmy-routers").default ?? req("scimmy-routers");

const token = process.env.SCIM_TOKEN;
if (!token) throw new Error("SCIM_TOKEN is required");

const users = new Map();
const groups = new Map();
let next = 1;
const newId = () => `${Date.now().toString(16)}-${(next++).toString(16).padStart(6, "0")}`;
const now = () => new Date().toISOString();
const plain = (instance) => JSON.parse(JSON.stringify(instance));
const fail = (status, scimType, detail) => new SCIMMY.Types.Error(status, scimType, detail);

SCIMMY.Config.set({ patch: true, filter: true, sort: false, bulk: false, etag: false, changePassword: false });

const userOut = (u) => {
  const memberOf = [...groups.values()]
    .filter((g) => (g.members ?? []).some((m) => m.value === u.id))
    .map((g) => ({ value: g.id, display: g.displayName, type: "direct" }));
  return memberOf.length ? { ...u, groups: memberOf } : { ...u };
};

SCIMMY.Resources.declare(SCIMMY.Resources.User)
  .egress((resource) => {
    if (resource.id) {
      const u = users.get(resource.id);
      if (!u) throw fail(404, null, `Resource ${resource.id} not found`);
      return userOut(u);
    }
    const all = [...users.values()].map(userOut);
    return resource.filter ? resource.filter.match(all) : all;
  })
  .ingress((resource, instance) => {
    const data = plain(instance);
    delete data.groups;
    delete data.id;
    const name = String(data.userName ?? "").toLowerCase();
    for (const other of users.values()) {
      if (other.id !== resource.id && String(other.userName).toLowerCase() === name)
        throw fail(409, "uniqueness", `userName ${data.userName} is already in use`);
    }
    if (resource.id) {
      const old = users.get(resource.id);
      if (!old) throw fail(404, null, `Resource ${resource.id} not found`);
      const u = { ...data, id: resource.id, meta: { created: old.meta.created, lastModified: now() } };
      users.set(u.id, u);
      return userOut(u);
    }
    const stamp = now();
    const u = { ...data, id: newId(), meta: { created: stamp, lastModified: stamp } };
    users.set(u.id, u);
    return userOut(u);
  })
  .degress((resource) => {
    if (!users.delete(resource.id)) throw fail(404, null, `Resource ${resource.id} not found`);
    for (const g of groups.values()) g.members = (g.members ?? []).filter((m) => m.value !== resource.id);
  });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
  .egress((resource) => {
    if (resource.id) {
      const g = groups.get(resource.id);
      if (!g) throw fail(404, null, `Resource ${resource.id} not found`);
      return { ...g };
    }
    const all = [...groups.values()].map((g) => ({ ...g }));
    return resource.filter ? resource.filter.match(all) : all;
  })
  .ingress((resource, instance) => {
    const data = plain(instance);
    delete data.id;
    const name = String(data.displayName ?? "").toLowerCase();
    for (const other of groups.values()) {
      if (other.id !== resource.id && String(other.displayName).toLowerCase() === name)
        throw fail(409, "uniqueness", `displayName ${data.displayName} is already in use`);
    }
    for (const m of data.members ?? []) {
      if (!users.has(m.value)) throw fail(400, "invalidValue", `member ${m.value} does not exist`);
    }
    if (resource.id) {
      const old = groups.get(resource.id);
      if (!old) throw fail(404, null, `Resource ${resource.id} not found`);
      const g = { ...data, id: resource.id, meta: { created: old.meta.created, lastModified: now() } };
      groups.set(g.id, g);
      return { ...g };
    }
    const stamp = now();
    const g = { ...data, id: newId(), meta: { created: stamp, lastModified: stamp } };
    groups.set(g.id, g);
    return { ...g };
  })
  .degress((resource) => {
    if (!groups.delete(resource.id)) throw fail(404, null, `Resource ${resource.id} not found`);
  });

const app = express();
app.use(
  "/scim/v2",
  new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
      if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Invalid bearer token");
      return "roster-interop";
    },
  }),
);
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
