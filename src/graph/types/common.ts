import type { PermissionState } from '../../domain/permissions.ts';
import type { AuthenticatedPrincipal } from '../../domain/principal.ts';
import type { SortDirection, SortOrder } from '../../domain/list-query.ts';
import { builder } from '../builder.ts';
import type { GraphContext } from '../context.ts';
import { refusalFor } from '../error-policy.ts';

export const OrderDirection = builder.enumType('OrderDirection', {
  values: { ASC: { value: 'asc' }, DESC: { value: 'desc' } } as const,
});

export const PermissionStateRef = builder.objectRef<PermissionState>('PermissionState').implement({
  description: 'A declared permission and whether the holder in question has it.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    enabled: t.exposeBoolean('enabled'),
  }),
});

export const PermissionInput = builder.inputType('PermissionInput', {
  description: 'Switches one permission on or off.',
  fields: (t) => ({
    name: t.string({ required: true }),
    enabled: t.boolean({ required: true }),
  }),
});

/** The signed-in principal of a field that requires one (its auth scope has already run). */
export function actorOf(context: GraphContext): AuthenticatedPrincipal {
  if (context.principal.kind === 'guest') throw refusalFor(context.principal);
  return context.principal;
}

export function sortOrders<F extends string>(
  orderBy: readonly { field: F; direction?: SortDirection | null }[] | null | undefined,
  fallback: SortOrder<F>,
): SortOrder<F>[] {
  if (!orderBy || orderBy.length === 0) return [fallback];
  return orderBy.map(({ field, direction }) => ({ field, direction: direction ?? 'asc' }));
}
