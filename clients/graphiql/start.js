// Starts GraphiQL on /graphql (the page is server/graphiql.py's). A file, not an inline
// script: the page's Content-Security-Policy allows scripts from this server only.
const defaults = JSON.parse(document.getElementById("graphiql-defaults").textContent);
const fetcher = GraphiQL.createFetcher({ url: defaults.url });
const explorer = GraphiQLPluginExplorer.explorerPlugin();

function PhonegateGraphiQL() {
  return React.createElement(GraphiQL, {
    fetcher,
    plugins: [explorer],
    defaultQuery: defaults.query,
    defaultTabs: [{ query: defaults.query, variables: defaults.variables }],
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false, // tokens stay out of localStorage
    inputValueDeprecation: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(PhonegateGraphiQL),
);
