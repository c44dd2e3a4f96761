// Gets an access token for each data plane with @azure/identity's WorkloadIdentityCredential
// and reports the claims the stand-ins check.
import { credential, main, report, step } from "./common.mjs";

const scopes = {
  keyvault: "https://vault.azure.net/.default",
  storage: "https://storage.azure.com/.default",
  servicebus: "https://servicebus.azure.net/.default",
  cosmos: "https://cosmos.azure.com/.default",
};

main(async () => {
  const cred = credential();
  const out = {};
  for (const [name, scope] of Object.entries(scopes)) {
    await step(out, name, async () => {
      const t = await cred.getToken(scope);
      const claims = JSON.parse(Buffer.from(t.token.split(".")[1], "base64url").toString());
      return { aud: claims.aud, appid: claims.appid, oid: claims.oid, tid: claims.tid, expiresInS: Math.round((t.expiresOnTimestamp - Date.now()) / 1000) };
    });
  }
  report(out);
});
