import { Kind, parse, valueFromASTUntyped, type ConstDirectiveNode, type DocumentNode } from 'graphql';

/** `@listSize` as the IBM cost spec and Apollo's demand control define it. */
export interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
  sizedFields?: string[];
  requireOneSlicingArgument: boolean;
}

/** What the supergraph says about one field or type: who may see it, what it costs, how often it may be called. */
export interface Policy {
  authenticated: boolean;
  /** Alternatives of scope sets: the viewer needs every scope of at least one set. */
  requiresScopes?: string[][];
  /** `@cost(weight)`, replacing the default weight (objects 1, leaves 0, mutation fields 10). */
  cost?: number;
  listSize?: ListSize;
  rateLimit?: { max: number; window: string };
  cacheControl?: { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE'; inheritMaxAge: boolean };
}

/**
 * The router's reading of the supergraph's security, cost and rate-limit
 * directives, keyed `Type` and `Type.field`. The gateway's API schema drops
 * these directives, so they are read from the supergraph SDL itself.
 */
export class SchemaPolicy {
  private constructor(
    private readonly types: Map<string, Policy>,
    private readonly fields: Map<string, Policy>,
  ) {}

  static fromSupergraph(sdl: string | DocumentNode): SchemaPolicy {
    const document = typeof sdl === 'string' ? parse(sdl) : sdl;
    const types = new Map<string, Policy>();
    const fields = new Map<string, Policy>();
    for (const definition of document.definitions) {
      if (
        definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
        definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
        definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
        definition.kind !== Kind.SCALAR_TYPE_DEFINITION &&
        definition.kind !== Kind.ENUM_TYPE_DEFINITION &&
        definition.kind !== Kind.UNION_TYPE_DEFINITION
      ) {
        continue;
      }
      const typePolicy = readPolicy(definition.directives ?? []);
      if (typePolicy) types.set(definition.name.value, typePolicy);
      if (!('fields' in definition) || !definition.fields) continue;
      for (const field of definition.fields) {
        const policy = readPolicy(field.directives ?? []);
        if (policy) fields.set(`${definition.name.value}.${field.name.value}`, policy);
      }
    }
    return new SchemaPolicy(types, fields);
  }

  field(typeName: string, fieldName: string): Policy | undefined {
    return this.fields.get(`${typeName}.${fieldName}`);
  }

  type(typeName: string): Policy | undefined {
    return this.types.get(typeName);
  }

  /** Every field that carries `@rateLimit`, for listing and tests. */
  rateLimitedFields(): string[] {
    return [...this.fields].filter(([, p]) => p.rateLimit).map(([key]) => key);
  }
}

function argument(directive: ConstDirectiveNode, name: string): unknown {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  return arg ? valueFromASTUntyped(arg.value) : undefined;
}

function readPolicy(directives: readonly ConstDirectiveNode[]): Policy | null {
  let policy: Policy | null = null;
  const get = () => (policy ??= { authenticated: false });
  for (const directive of directives) {
    switch (directive.name.value) {
      case 'authenticated':
        get().authenticated = true;
        break;
      case 'requiresScopes':
        get().requiresScopes = argument(directive, 'scopes') as string[][];
        break;
      case 'cost':
        get().cost = argument(directive, 'weight') as number;
        break;
      case 'listSize':
        get().listSize = {
          assumedSize: argument(directive, 'assumedSize') as number | undefined,
          slicingArguments: argument(directive, 'slicingArguments') as string[] | undefined,
          sizedFields: argument(directive, 'sizedFields') as string[] | undefined,
          requireOneSlicingArgument: (argument(directive, 'requireOneSlicingArgument') as boolean | undefined) ?? true,
        };
        break;
      case 'cacheControl':
        get().cacheControl = {
          maxAge: argument(directive, 'maxAge') as number | undefined,
          scope: argument(directive, 'scope') as 'PUBLIC' | 'PRIVATE' | undefined,
          inheritMaxAge: (argument(directive, 'inheritMaxAge') as boolean | undefined) ?? false,
        };
        break;
      case 'rateLimit':
        get().rateLimit = {
          max: argument(directive, 'max') as number,
          window: argument(directive, 'window') as string,
        };
        break;
    }
  }
  return policy;
}
