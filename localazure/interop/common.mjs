// Shared by the interop scripts: credentials from the pod environment, and a JSON
// report on stdout that the Go tests read (the last line).
import { WorkloadIdentityCredential } from "@azure/identity";

export const env = process.env;

// credential builds the workload identity credential of the workload whose variables
// carry prefix ("" = this process's own AZURE_*, "BACKEND_" = the backend's).
export function credential(prefix = "") {
  return new WorkloadIdentityCredential({
    tenantId: env.AZURE_TENANT_ID,
    clientId: env[prefix + "AZURE_CLIENT_ID"],
    tokenFilePath: env[prefix + "AZURE_FEDERATED_TOKEN_FILE"],
    authorityHost: env.AZURE_AUTHORITY_HOST,
    // MSAL would otherwise ask login.microsoftonline.com about the local authority.
    disableInstanceDiscovery: true,
  });
}

// errInfo keeps what the tests assert about an SDK error.
export function errInfo(e) {
  return {
    error: String(e && e.message ? e.message : e).slice(0, 400),
    name: e && e.name,
    code: e && e.code,
    statusCode: e && e.statusCode,
  };
}

// step runs fn and stores its result (or the error) under name in out.
export async function step(out, name, fn) {
  const began = Date.now();
  try {
    out[name] = (await fn()) ?? "ok";
  } catch (e) {
    out[name] = errInfo(e);
  }
  // Progress on stderr, which the Go tests show when a script fails or hangs.
  console.error(`step ${name}: ${Date.now() - began} ms`);
}

export function report(out) {
  process.stdout.write("\n" + JSON.stringify(out) + "\n");
}

export function main(fn) {
  fn().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
