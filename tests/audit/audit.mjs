// The GraphQL-over-HTTP audit (graphql-http's auditServer) against a running phonegate:
//   node tests/audit/audit.mjs http://127.0.0.1:8000/graphql
// Prints one line per audit and a summary; exits 1 on any warning or error.
import { auditServer } from "graphql-http";

const url = process.argv[2] ?? "http://127.0.0.1:8000/graphql";
const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const detail = result.status === "ok" ? "" : ` -- ${result.reason}`;
  console.log(`${result.status.padEnd(5)} ${result.id} ${result.name}${detail}`);
}
console.log(`${counts.ok} of ${results.length} ok, ${counts.warn} warnings, ${counts.error} errors`);
process.exit(counts.ok === results.length ? 0 : 1);
