import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  /** Deepest allowed nesting of selection sets, fragments included. */
  readonly maxDepth: number;
  /** Most aliases allowed in one document. */
  readonly maxAliases: number;
  /** Most lexical tokens the parser reads before giving up. */
  readonly maxTokens: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxTokens: 5000 };

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', status: 400 } });
}

/** Rejects documents nested deeper than `maxDepth`, following fragment spreads (cycles are another rule's job). */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    const depthOf = (selectionSet: SelectionSetNode, depth: number, seen: Set<string>): number => {
      if (depth > maxDepth) return depth;
      let deepest = depth;
      for (const selection of selectionSet.selections) {
        let next = depth;
        if (selection.kind === Kind.FIELD) {
          next = selection.selectionSet ? depthOf(selection.selectionSet, depth + 1, seen) : depth;
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          next = depthOf(selection.selectionSet, depth, seen);
        } else {
          const fragment = fragments.get(selection.name.value);
          if (fragment && !seen.has(fragment.name.value)) {
            next = depthOf(fragment.selectionSet, depth, new Set(seen).add(fragment.name.value));
          }
        }
        deepest = Math.max(deepest, next);
        if (deepest > maxDepth) break;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        if (depthOf(node.selectionSet, 1, new Set()) > maxDepth) {
          context.reportError(limitError(`Query is nested deeper than ${maxDepth} levels`));
        }
      },
    };
  };
}

export function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === maxAliases + 1) {
          context.reportError(limitError(`Query uses more than ${maxAliases} aliases`));
        }
      },
    };
  };
}

export function queryLimitRules(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule[] {
  return [depthLimitRule(limits.maxDepth), aliasLimitRule(limits.maxAliases)];
}
