export { SUBGRAPHS, SUPERGRAPH_PATH, composeSupergraph, subgraphSchemaPath, type SubgraphName } from './compose';
