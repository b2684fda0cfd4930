// Starts GraphiQL on /graphql (the page is server/graphiql.py's). A file, not an inline
// script: the page's Content-Security-Policy allows scripts from this server only.
const defaults = JSON.parse(document.getElementById("graphiql-defaults").textContent);
const fetcher = GraphiQL.createFetcher({ url: defaults.url });
const explorer = GraphiQLPluginExplorer.explorerPlugin();
// GraphiQL 3.8 fills the Variables pane from its `variables` prop or what it stored, never
// from defaultTabs: on a first visit (no tabs stored yet) pass the walkthrough's variables,
// so that the default tab runs as it is; later visits keep the person's own.
const firstVisit = (() => {
  try {
    return window.localStorage.getItem("graphiql:tabState") === null;
  } catch {
    return true; // no storage: nothing of the person's to keep
  }
})();

function PhonegateGraphiQL() {
  return React.createElement(GraphiQL, {
    fetcher,
    plugins: [explorer],
    defaultQuery: defaults.query,
    defaultTabs: [{ query: defaults.query, variables: defaults.variables }],
    variables: firstVisit ? defaults.variables : undefined,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false, // tokens stay out of localStorage
    inputValueDeprecation: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(PhonegateGraphiQL),
);
