// phonegate-client: the typed fetch wrapper and the generated operation documents and types.
export * from "./client.js";
export * from "./generated/graphql.js";
export { DOCUMENT_IDS } from "./documentIds.js";
