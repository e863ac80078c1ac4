// SCIMMY with scimmy-routers in a small Express app, keeping users and groups in memory: a SCIM server written by
// others, for the SCIM client's conformance tests.
//
//     node server.js <bearer token>
//
// prints `listening <port>` once it answers on 127.0.0.1.
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const token = process.argv[2];

for (const Resource of [SCIMMY.Resources.User, SCIMMY.Resources.Group]) {
    const store = new Map();
    SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => {
            if (resource.id && !store.has(resource.id))
                throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            const id = resource.id ?? randomUUID();
            if (Resource === SCIMMY.Resources.User && [...store.values()].some(
                (user) => user.id !== id && user.userName.toLowerCase() === instance.userName.toLowerCase()))
                throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${instance.userName} is taken`);
            const now = new Date().toISOString();
            const record = {...JSON.parse(JSON.stringify(instance)), id,
                meta: {created: store.get(id)?.meta?.created ?? now, lastModified: now}};
            store.set(id, record);
            return record;
        })
        .egress((resource) => {
            if (resource.id) {
                if (!store.has(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                return store.get(resource.id);
            }
            const all = [...store.values()];
            return resource.filter ? resource.filter.match(all) : all;
        })
        .degress((resource) => {
            if (!store.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        });
}

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.invalid/accessbot-conformance",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization failure");
        return "accessbot";
    },
}));
const server = app.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
