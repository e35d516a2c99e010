/**
 * Which link each mesh axis runs on. Ranks are r = d·model + m (lib/runtime/mesh.ts coordinatesOf),
 * and nodes hold consecutive ranks, devicesPerNode each: the model axis (consecutive ranks) is
 * inside a node whenever it fits in one (its traffic, every layer's activations, is the heaviest and
 * most latency-bound), and the data axis fills the rest of the node and then spans nodes.
 *
 * A ring whose members span several nodes runs at its slowest hop (the network share of one device:
 * each GPU has its own NIC in the systems of devices.ts); its latency is one network hop per node
 * crossed and a link hop for the others.
 */
import type { MeshShape } from '../runtime/mesh';
import type { RingLink } from './collective-cost';
import type { DeviceSpec } from './devices';

export interface AxisPlacement {
  axis: 'data' | 'model';
  ranks: number;
  /** 'link' (all members in one node) or 'network' (the ring crosses nodes). */
  carrier: 'link' | 'network';
  /** Nodes one ring of this axis spans. */
  nodes: number;
  link: RingLink;
}

export interface Topology {
  devicesPerNode: number;
  nodes: number;
  axes: { data: AxisPlacement; model: AxisPlacement };
}

function place(axis: 'data' | 'model', ranks: number, stride: number, perNode: number, d: DeviceSpec): AxisPlacement {
  // Members r0 + i·stride for i < ranks; a node holds perNode consecutive ranks.
  const span = (ranks - 1) * stride + 1;
  const nodes = ranks <= 1 ? 1 : Math.min(ranks, Math.max(1, Math.ceil(span / perNode)));
  const crosses = nodes > 1;
  // Per ring step the slowest member waits for its hop; across nodes that is a network hop.
  const hopSeconds = (crosses ? d.netLatencyUs : d.linkLatencyUs) * 1e-6;
  return {
    axis,
    ranks,
    carrier: crosses ? 'network' : 'link',
    nodes,
    link: { bytesPerSecond: (crosses ? Math.min(d.netGBps, d.linkGBps) : d.linkGBps) * 1e9, hopSeconds },
  };
}

export function topologyOf(mesh: MeshShape, d: DeviceSpec, devicesPerNode = d.devicesPerNode): Topology {
  const total = mesh.data * mesh.model;
  return {
    devicesPerNode,
    nodes: Math.ceil(total / devicesPerNode),
    axes: { model: place('model', mesh.model, 1, devicesPerNode, d), data: place('data', mesh.data, mesh.model, devicesPerNode, d) },
  };
}
