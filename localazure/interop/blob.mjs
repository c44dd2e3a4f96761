// Blob via Azurite with @azure/storage-blob and the frontend's token. Azurite checks the
// token but not role assignments (docs/localazure.md), so no refusal is tested here.
import { BlobServiceClient } from "@azure/storage-blob";
import { credential, env, main, report, step } from "./common.mjs";

async function text(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

main(async () => {
  const svc = new BlobServiceClient(env.STORAGE_BLOB_ENDPOINT, credential());
  const name = `interop-${Date.now()}.txt`;
  const body = "hello from @azure/storage-blob " + name;
  const out = { body };
  const attachments = svc.getContainerClient(env.ATTACHMENTS_CONTAINER);
  await step(out, "upload", async () => {
    const r = await attachments.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: "text/plain" } });
    return { etag: r.etag };
  });
  await step(out, "download", async () => {
    const r = await attachments.getBlobClient(name).download();
    return { contentType: r.contentType, text: await text(r.readableStreamBody) };
  });
  await step(out, "list", async () => {
    const names = [];
    for await (const b of attachments.listBlobsFlat({ prefix: "interop-" })) names.push(b.name);
    return names;
  });
  report(out);
});
