// Key Vault secrets with @azure/keyvault-secrets as the frontend (Key Vault Secrets User).
import { SecretClient } from "@azure/keyvault-secrets";
import { credential, env, main, report, step } from "./common.mjs";

main(async () => {
  // The local vault's host is not *.vault.azure.net.
  const client = new SecretClient(env.KEYVAULT_URL, credential(), { disableChallengeResourceVerification: true });
  const out = {};
  await step(out, "get", async () => {
    const s = await client.getSecret(env.RECEIPT_KEY_SECRET);
    return { name: s.name, valueBytes: Buffer.from(s.value, "base64").length, contentType: s.properties.contentType, version: s.properties.version, enabled: s.properties.enabled };
  });
  await step(out, "set", async () => {
    await client.setSecret("interop-intruder", "x");
    return "allowed";
  });
  await step(out, "list", async () => {
    const names = [];
    for await (const p of client.listPropertiesOfSecrets()) names.push(p.name);
    return names;
  });
  report(out);
});
