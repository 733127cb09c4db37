import { describe, expect, it } from 'vitest';
import { ownerOf, rankFor, type PlacementNode } from '../src/placement.js';

const ids = Array.from({ length: 3000 }, (_, index) => `image-${index}`);
const nodes = (...names: string[]): PlacementNode[] => names.map((nodeId) => ({ nodeId, weight: 1 }));

describe('rendezvous placement', () => {
  it('gives every node the same owner whatever the order it lists the nodes in', () => {
    const a = nodes('n1', 'n2', 'n3', 'n4');
    const b = [...a].reverse();
    const c = [a[2]!, a[0]!, a[3]!, a[1]!];
    const owners = (ring: PlacementNode[]) => ids.map((id) => ownerOf(id, ring)!.nodeId);
    const expected = owners(a);
    expect(owners(b)).toEqual(expected);
    expect(owners(c)).toEqual(expected);
    expect(ids.map((id) => rankFor(id, c)[0]!.nodeId)).toEqual(expected);
  });

  it('spreads images evenly over equal nodes', () => {
    const counts = countOwners(nodes('n1', 'n2', 'n3'));
    for (const count of counts.values()) expect(Math.abs(count - ids.length / 3)).toBeLessThan(ids.length * 0.05);
  });

  it('moves only the images the joining node wins when a node joins', () => {
    const before = nodes('n1', 'n2', 'n3');
    const after = [...before, { nodeId: 'n4', weight: 1 }];
    const movedTo = ids
      .map((id) => [ownerOf(id, before)!.nodeId, ownerOf(id, after)!.nodeId])
      .filter(([was, now]) => was !== now)
      .map(([, now]) => now);
    expect(new Set(movedTo)).toEqual(new Set(['n4']));
    const moved = movedTo.length;
    // About a quarter of the images move, all to the new node.
    expect(Math.abs(moved - ids.length / 4)).toBeLessThan(ids.length * 0.05);
  });

  it('moves only the leaving node’s images when a node leaves', () => {
    const before = nodes('n1', 'n2', 'n3', 'n4');
    const after = before.filter((node) => node.nodeId !== 'n2');
    const kept = ids.filter((id) => ownerOf(id, before)!.nodeId !== 'n2');
    expect(kept.map((id) => ownerOf(id, after)!.nodeId)).toEqual(kept.map((id) => ownerOf(id, before)!.nodeId));
  });

  it('gives a node a share in proportion to its weight', () => {
    const counts = countOwners([
      { nodeId: 'small', weight: 1 },
      { nodeId: 'big', weight: 3 },
    ]);
    expect(Math.abs(counts.get('big')! / ids.length - 0.75)).toBeLessThan(0.03);
    expect(Math.abs(counts.get('small')! / ids.length - 0.25)).toBeLessThan(0.03);
  });

  it('has no owner without nodes', () => {
    expect(ownerOf('x', [])).toBeUndefined();
  });
});

function countOwners(ring: PlacementNode[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) {
    const owner = ownerOf(id, ring)!.nodeId;
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return counts;
}
