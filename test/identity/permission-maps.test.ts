import { describe, expect, it } from 'vitest';
import { heldPermissionMap, permissionEntries, permissionMapOf } from '../../src/domain/permissions.ts';

describe('permission maps and their list form', () => {
  it('turn a list of switches into a map, the last switch of a name winning', () => {
    expect(
      permissionMapOf([
        { name: 'admin', enabled: true },
        { name: 'billing', enabled: false },
        { name: 'admin', enabled: false },
      ]),
    ).toEqual({ admin: false, billing: false });
    expect(permissionMapOf([])).toEqual({});
  });

  it('list a map as switches, anything but true switching off', () => {
    expect(permissionEntries({ admin: true, billing: false, teams: 'yes' })).toEqual([
      { name: 'admin', enabled: true },
      { name: 'billing', enabled: false },
      { name: 'teams', enabled: false },
    ]);
    expect(permissionMapOf(permissionEntries({ admin: true, billing: false }))).toEqual({ admin: true, billing: false });
  });

  it('map what a holder has, each name switched on', () => {
    expect(heldPermissionMap(['admin', 'billing'])).toEqual({ admin: true, billing: true });
    expect(heldPermissionMap(new Set(['admin']))).toEqual({ admin: true });
    expect(heldPermissionMap([])).toEqual({});
  });
});
