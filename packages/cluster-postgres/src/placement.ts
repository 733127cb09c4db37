import { createHash } from 'node:crypto';

/** A node as placement sees it: its stable id and its share of the images. */
export interface PlacementNode {
  nodeId: string;
  /** Relative capacity (> 0): a node of weight 2 owns about twice the images of one of weight 1. */
  weight: number;
}

/**
 * The owner of an image among `nodes`, by weighted rendezvous (highest-random-weight)
 * hashing: every node scores `-weight / ln(h)`, where `h` in (0, 1) is a hash of the node
 * id and the image id, and the highest score wins (Schindelhauer & Schomaker, "Weighted
 * distributed hash tables", 2005). Every node computes the same owner from the same node
 * list, in any order, without asking anyone; when a node joins or leaves, only the images
 * it wins or held move.
 * @returns the owning node, or undefined when `nodes` is empty.
 */
export function ownerOf<T extends PlacementNode>(imageId: string, nodes: readonly T[]): T | undefined {
  let best: T | undefined;
  let bestScore = -Infinity;
  for (const node of nodes) {
    const score = rendezvousScore(node, imageId);
    // Ties (practically impossible) go to the smaller id, so the order of `nodes` never matters.
    if (score > bestScore || (score === bestScore && best !== undefined && node.nodeId < best.nodeId)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The nodes of `nodes` ranked for an image, owner first: the order in which replicas and
 * fallbacks are picked.
 */
export function rankFor<T extends PlacementNode>(imageId: string, nodes: readonly T[]): T[] {
  return nodes
    .map((node) => ({ node, score: rendezvousScore(node, imageId) }))
    .sort((a, b) => b.score - a.score || (a.node.nodeId < b.node.nodeId ? -1 : 1))
    .map(({ node }) => node);
}

/** The rendezvous score of a node for an image; higher wins. */
export function rendezvousScore(node: PlacementNode, imageId: string): number {
  const digest = createHash('sha256').update(node.nodeId).update('\0').update(imageId).digest();
  // 53 bits of the digest as a number in (0, 1): exact in a double, never 0 or 1.
  const bits = digest.readUIntBE(0, 6) * 32 + (digest[6]! >>> 3);
  const unit = (bits + 0.5) / 2 ** 53;
  return -node.weight / Math.log(unit);
}
