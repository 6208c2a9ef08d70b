import { fileURLToPath } from 'node:url';
import { Supergraph } from '@apollo/federation-internals';
import { DEFAULT_TIERS, ErrorCode, httpStatusFor, type TierTable } from '@memegraph/service-kit';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  Kind,
  parse,
  print,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type DocumentNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { format, resolveConfig } from 'prettier';
import { ERROR_GUIDE } from './errorGuide';

/** The API reference, generated from the supergraph: `npm run schema:reference` writes it, `npm run schema:check` fails when it is stale. */
export const REFERENCE_PATH = fileURLToPath(new URL('../../docs/api.md', import.meta.url));

type Directives = Map<string, Record<string, unknown>>;

/** The directives written on a definition in the supergraph SDL (the API schema strips them). */
function directivesOf(nodes: readonly ConstDirectiveNode[] | undefined): Directives {
  const found: Directives = new Map();
  for (const node of nodes ?? []) {
    if (node.name.value.startsWith('join__') || node.name.value === 'link') continue;
    const args: Record<string, unknown> = {};
    for (const arg of node.arguments ?? []) args[arg.name.value] = valueFromASTUntyped(arg.value);
    found.set(node.name.value, args);
  }
  return found;
}

/** Every type's and field's directives, by `Type` and `Type.field`. */
function directiveIndex(document: DocumentNode): Map<string, Directives> {
  const index = new Map<string, Directives>();
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.ENUM_TYPE_DEFINITION &&
      definition.kind !== Kind.SCALAR_TYPE_DEFINITION &&
      definition.kind !== Kind.UNION_TYPE_DEFINITION &&
      definition.kind !== Kind.INPUT_OBJECT_TYPE_DEFINITION
    )
      continue;
    const type = definition.name.value;
    index.set(type, directivesOf(definition.directives));
    if ('fields' in definition)
      for (const field of definition.fields ?? [])
        index.set(`${type}.${field.name.value}`, directivesOf(field.directives));
  }
  return index;
}

/** Every field of the API with its description and the directives written on it in the supergraph. */
export function fieldDirectives(
  supergraphSdl: string,
): { coordinate: string; description: string; directives: Directives }[] {
  const index = directiveIndex(parse(supergraphSdl));
  const api = Supergraph.build(supergraphSdl, { supportedFeatures: null }).apiSchema().toGraphQLJSSchema();
  return Object.values(api.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith('__'))
    .flatMap((type) =>
      Object.values((type as GraphQLObjectType).getFields()).map((field) => ({
        coordinate: `${type.name}.${field.name}`,
        description: field.description ?? '',
        directives: index.get(`${type.name}.${field.name}`) ?? new Map(),
      })),
    );
}

const code = (text: string) => `\`${text}\``;
/** Text for a table cell: one line, pipes escaped. */
const cell = (text: string | undefined | null) => (text ?? '').replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

/** The tiers that hold a scope, from the tier table; a scope no tier holds is given to operators (admin). */
function tiersWith(scope: string, tiers: TierTable): string {
  const holders = Object.entries(tiers)
    .filter(([, limits]) => limits.scopes.includes(scope))
    .map(([tier]) => tier);
  return holders.length > 0 ? holders.join(', ') : 'operators only';
}

/** Who may see the field: its `@authenticated` and `@requiresScopes`, and its type's. */
function access(own: Directives, parent: Directives, tiers: TierTable): string {
  const needs: string[] = [];
  if (own.has('authenticated') || parent.has('authenticated')) needs.push('sign-in');
  const scopes = (own.get('requiresScopes') ?? parent.get('requiresScopes'))?.scopes as string[][] | undefined;
  if (scopes) {
    needs.push(
      scopes
        .map((all) => all.map((scope) => `scope ${code(scope)} (${tiersWith(scope, tiers)})`).join(' and '))
        .join(' or '),
    );
  }
  return needs.length > 0 ? needs.join('; ') : 'anyone';
}

/** Cost weight, list size, rate limit and cache hint written on the field. */
function limits(own: Directives): string {
  const parts: string[] = [];
  const cost = own.get('cost');
  if (cost) parts.push(`cost ${String(cost.weight)}`);
  const listSize = own.get('listSize');
  if (listSize) {
    if (listSize.assumedSize !== undefined) parts.push(`list of ${String(listSize.assumedSize)} (assumed)`);
    const slicing = listSize.slicingArguments as string[] | undefined;
    if (slicing?.length) parts.push(`list size from ${slicing.map(code).join(', ')}`);
    const sized = listSize.sizedFields as string[] | undefined;
    if (sized?.length) parts.push(`sizes ${sized.map(code).join(', ')}`);
  }
  const rate = own.get('rateLimit');
  if (rate) parts.push(`at most ${String(rate.max)} per ${String(rate.window)}`);
  const cache = own.get('cacheControl');
  if (cache) parts.push(cacheText(cache));
  return parts.join('; ');
}

function cacheText(hint: Record<string, unknown>): string {
  const parts: string[] = [];
  if (hint.maxAge !== undefined) parts.push(`cache ${String(hint.maxAge)} s`);
  if (hint.inheritMaxAge) parts.push("cache: the parent's max age");
  if (hint.scope === 'PRIVATE')
    parts.push(hint.maxAge === undefined ? 'cache per viewer (PRIVATE)' : 'per viewer (PRIVATE)');
  return parts.join(', ');
}

const argument = (arg: GraphQLArgument | GraphQLInputField) => {
  const defaultValue = arg.astNode?.defaultValue !== undefined ? ` = ${print(arg.astNode.defaultValue)}` : '';
  return `${arg.name}: ${String(arg.type)}${defaultValue}`;
};

const fieldSignature = (field: GraphQLField<unknown, unknown>) =>
  field.args.length > 0 ? `${field.name}(${field.args.map(argument).join(', ')})` : field.name;

function fieldRows(
  type: GraphQLObjectType | GraphQLInterfaceType,
  index: Map<string, Directives>,
  tiers: TierTable,
): string[] {
  const parent = index.get(type.name) ?? new Map();
  const rows = ['| field | type | who may ask | limits and caching | description |', '| --- | --- | --- | --- | --- |'];
  for (const field of Object.values(type.getFields())) {
    const own = index.get(`${type.name}.${field.name}`) ?? new Map();
    const argNotes = field.args
      .filter((arg) => arg.description)
      .map((arg) => ` ${code(arg.name)}: ${arg.description}`)
      .join('');
    const deprecated = field.deprecationReason ? ` **Deprecated:** ${field.deprecationReason}` : '';
    rows.push(
      `| ${code(fieldSignature(field))} | ${code(String(field.type))} | ${access(own, parent, tiers)} | ${cell(limits(own))} | ${cell(
        `${field.description ?? ''}${argNotes}${deprecated}`,
      )} |`,
    );
  }
  return rows;
}

function typeSection(type: GraphQLNamedType, index: Map<string, Directives>, tiers: TierTable): string[] {
  const own = index.get(type.name) ?? new Map();
  const kind = isObjectType(type)
    ? 'object'
    : isInterfaceType(type)
      ? 'interface'
      : isUnionType(type)
        ? 'union'
        : isEnumType(type)
          ? 'enum'
          : isInputObjectType(type)
            ? 'input'
            : 'scalar';
  const lines = [
    `### ${type.name}`,
    '',
    `_${kind}_${type.description ? `: ${type.description.replace(/\s*\n\s*/g, ' ')}` : ''}`,
    '',
  ];
  const typeNotes: string[] = [];
  if (own.has('authenticated') || own.has('requiresScopes'))
    typeNotes.push(`Every field needs ${access(new Map(), own, tiers)}.`);
  const cache = own.get('cacheControl');
  if (cache) typeNotes.push(`Cache hint of the type: ${cacheText(cache)}.`);
  if (typeNotes.length > 0) lines.push(typeNotes.join(' '), '');
  if (isObjectType(type) || isInterfaceType(type)) lines.push(...fieldRows(type, index, tiers), '');
  else if (isInputObjectType(type)) {
    lines.push('| field | type | description |', '| --- | --- | --- |');
    for (const field of Object.values(type.getFields()))
      lines.push(`| ${code(argument(field))} | ${code(String(field.type))} | ${cell(field.description)} |`);
    lines.push('');
  } else if (isEnumType(type)) {
    lines.push('| value | description |', '| --- | --- |');
    for (const value of type.getValues()) lines.push(`| ${code(value.name)} | ${cell(value.description)} |`);
    lines.push('');
  } else if (isUnionType(type)) {
    lines.push(
      `One of ${type
        .getTypes()
        .map((member) => code(member.name))
        .join(', ')}.`,
      '',
    );
  }
  return lines;
}

const INTRO = `# API reference

Generated from \`schema/supergraph.graphql\` and \`service-kit/src/errors.ts\`
by \`npm run schema:reference\` (\`schema/src/reference.ts\`): do not edit it
by hand. \`npm run schema:check\` (and \`npm test\`) fail when it is stale.
The same descriptions show in the explorer's docs and in introspection.

How to read the tables:

- **who may ask**: \`anyone\`, \`sign-in\` (\`@authenticated\`: a session token
  as \`Authorization: Bearer …\` or an API key as \`x-api-key\`), or a scope
  (\`@requiresScopes\`) with the tiers that hold it; \`memes:ai\` is Memes AI.
  A field the viewer may not see comes back \`null\` with an
  \`UNAUTHORIZED_FIELD_OR_TYPE\` error at its path, and the rest is served.
- **limits and caching**: \`cost N\` is the field's weight (\`@cost\`); without
  one an object costs 1, a leaf 0 and a mutation field 10. A list is counted
  at its size: from its slicing argument (\`first\`, \`days\`), an assumed
  size, or \`DEFAULT_LIST_SIZE\` (20). The operation's cost must stay under the
  tier's maximum and is taken from the viewer's cost bucket
  ([limits.md](limits.md)). \`at most N per W\` is a rate limit per viewer
  (\`@rateLimit\`). \`cache N s\` is the field's cache hint (\`@cacheControl\`):
  an answer is cached for the smallest hint of its fields, per viewer when any
  is PRIVATE; a field without a hint takes its type's, a leaf its parent's
  ([caching.md](caching.md)).
`;

const ROOTS = ['Query', 'Mutation', 'Subscription'];

/** The reference as markdown, before formatting. */
export function referenceMarkdown(supergraphSdl: string, tiers: TierTable = DEFAULT_TIERS): string {
  const document = parse(supergraphSdl);
  const index = directiveIndex(document);
  const api: GraphQLSchema = Supergraph.build(supergraphSdl, { supportedFeatures: null })
    .apiSchema()
    .toGraphQLJSSchema();
  const named = Object.values(api.getTypeMap()).filter(
    (type) => !type.name.startsWith('__') && !(isScalarType(type) && isSpecifiedScalarType(type)),
  );
  const roots = ROOTS.map((name) => named.find((type) => type.name === name)).filter(
    (type): type is GraphQLNamedType => type !== undefined,
  );
  const others = named.filter((type) => !ROOTS.includes(type.name)).sort((a, b) => a.name.localeCompare(b.name, 'en'));

  const lines = [INTRO, '## Operations', ''];
  for (const type of roots) lines.push(...typeSection(type, index, tiers));
  lines.push('## Types', '');
  for (const type of others) lines.push(...typeSection(type, index, tiers));
  lines.push(...errorSection());
  return lines.join('\n');
}

function errorSection(): string[] {
  const lines = [
    '## Errors',
    '',
    `Every error carries a stable \`extensions.code\`; when a request yields no
data the HTTP status follows it, in the media type the \`Accept\` header asks
for, router-level refusals included. With \`application/graphql-response+json\`
the statuses are those below. With \`application/json\` (also what \`*/*\` or no
\`Accept\` gets), the GraphQL errors of a well-formed request (the 400s below
but \`BAD_REQUEST\`) come with 200, as the GraphQL-over-HTTP spec asks; every
other status is the same. A batch is answered 200 with one answer per
operation, in order: an operation refused on its own (its shape, trusted
documents, an operation limit) gets its coded error in its place and the
others run. JSON nested deeper than 64 levels (a body, or a GET's
\`variables\` or \`extensions\`) is a 400 \`BAD_REQUEST\` before any other work;
text with a NUL byte is a 400 \`BAD_USER_INPUT\`. Generations that fail record
their code on the generation (\`Generation.error\`).

Names beginning with \`memegraph\` (case-sensitive) are reserved: the router
adds keys of its own to the selections it sends the subgraphs
(\`memegraphId\`, \`memegraphType\`, \`memegraphId_<Type>\`, \`memegraphRemoved\`)
and takes them out of answers, and a variable (\`memegraphGenerationId\`) to
the query each subscription event runs. An operation with an alias or
variable so named, anywhere in its document (fragments included), is refused
as a whole with \`GRAPHQL_VALIDATION_FAILED\` naming it, whether sent as text,
by APQ hash, as a trusted document, in a batch (that operation alone) or as a
subscription; \`MemegraphId\` or \`id_memegraph\` are a client's like any other
alias.`,
    '',
    '| code | HTTP | when | what to do |',
    '| --- | --- | --- | --- |',
  ];
  for (const name of Object.keys(ErrorCode) as ErrorCode[]) {
    const guide = ERROR_GUIDE[name];
    const status = guide.statusNote?.includes(String(httpStatusFor[name]))
      ? guide.statusNote
      : `${String(httpStatusFor[name])}${guide.statusNote ? ` (${guide.statusNote})` : ''}`;
    lines.push(`| ${code(name)} | ${cell(status)} | ${cell(guide.when)} | ${cell(guide.todo)} |`);
  }
  lines.push('');
  return lines;
}

/** The reference as committed: the markdown, formatted as the repository's Prettier formats it. */
export async function renderReference(supergraphSdl: string): Promise<string> {
  const options = (await resolveConfig(REFERENCE_PATH)) ?? {};
  return format(referenceMarkdown(supergraphSdl), { ...options, filepath: REFERENCE_PATH });
}
