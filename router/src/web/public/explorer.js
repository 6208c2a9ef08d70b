// The Memegraph explorer: GraphiQL (served by the router itself) with an API key field.
/* global React, ReactDOM, GraphiQL */
(() => {
  const config = JSON.parse(document.getElementById('explorer-config').textContent);
  const keyField = document.getElementById('api-key');
  // The key lives for this tab only: sessionStorage, never localStorage.
  const KEY_STORAGE = 'memegraph:explorer:api-key';
  keyField.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  keyField.addEventListener('input', () => {
    const key = keyField.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  });

  /** Every operation, introspection included, goes to the router with the key from the field. */
  async function fetcher(params, options) {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options && options.headers),
    };
    const key = keyField.value.trim();
    const named = Object.keys(headers).some(
      (h) => h.toLowerCase() === 'x-api-key' || h.toLowerCase() === 'authorization',
    );
    if (key && !named) headers['x-api-key'] = key;
    const response = await fetch(config.endpoint, { method: 'POST', headers, body: JSON.stringify(params) });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `The router answered HTTP ${response.status} with a body that is not JSON` }] };
    }
  }

  const container = document.getElementById('graphiql');
  container.textContent = '';
  // Long lines wrap instead of running off the side: on a phone the editors are narrow. GraphiQL makes its
  // CodeMirror editors as panes open, so each one is set when it appears.
  const wrapLines = () => {
    for (const element of container.querySelectorAll('.CodeMirror')) {
      const editor = element.CodeMirror;
      if (editor && !editor.getOption('lineWrapping')) editor.setOption('lineWrapping', true);
    }
  };
  new MutationObserver(wrapLines).observe(container, { childList: true, subtree: true });
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultTabs: config.examples,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      // Tabs and history are this explorer's own, apart from any other GraphiQL on the origin.
      storage: GraphiQL.createLocalStorage({ namespace: 'memegraph-explorer' }),
    }),
  );
})();
