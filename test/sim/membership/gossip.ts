import type { SimClock } from './clock.ts'
import type { SimNetwork } from './network.ts'

/** gossipsub's parameters that matter here (as gridd configures them). */
const MESH_LINKS = 2 // each node links to 2 random others: mesh degree ~4 (gossipsub's D in src/transport/libp2p.ts)
/** gossipsub's mesh bounds as gridd sets them (D, Dlo, Dhi): kept at each heartbeat. */
const MESH_D = 4
const MESH_LOW = 3
const MESH_HIGH = 6
const GOSSIP_PEERS = 2 // IHAVE goes to D_lazy (2) peers outside the mesh each heartbeat
const HEARTBEAT_MS = 1000
const HISTORY_MS = 3000 // mcache: ids gossiped for 3 heartbeats
const SEEN_TTL_MS = 120_000
/** Per-message overhead on the wire: protobuf framing, the signature, the key, the seqno. */
const ENVELOPE_BYTES = 160
const ID_BYTES = 40

interface Published { id: number, at: number, bytes: number, author: number, has: Uint8Array, deliver: (to: number) => void }

/**
 * A model of gossipsub's delivery, not its code: eager push over a random
 * mesh of degree ~4 (each receiver forwards a new message once to its mesh
 * peers), and lazy repair — every heartbeat each node sends IHAVE with the
 * ids of the last 3 s to 2 random peers, which fetch what they miss (IWANT).
 * The mesh is kept as gossipsub keeps it: a member a node fails is hung up
 * on (Connections does) and leaves its mesh, and a node below Dlo grafts
 * random peers up to D. Duplicates cost bytes like the real thing. What
 * membership does with a message is the real code (MembershipCore); only the
 * carrier is modelled.
 */
export class GossipModel {
  private readonly clock: SimClock
  private readonly net: SimNetwork
  private readonly random: () => number
  private readonly size: number
  private readonly mesh: number[][]
  /** Whether node `at` has failed `peer` (and so hung up on it). */
  private readonly gone: (at: number, peer: number) => boolean
  private recent: Published[] = []
  private nextId = 0

  constructor (clock: SimClock, net: SimNetwork, size: number, random: () => number, gone: (at: number, peer: number) => boolean) {
    this.clock = clock
    this.net = net
    this.size = size
    this.random = random
    this.gone = gone
    this.mesh = Array.from({ length: size }, () => [])
    for (let i = 0; i < size; i++) {
      for (let k = 0; k < Math.min(MESH_LINKS, size - 1); k++) {
        let j = Math.floor(random() * size)
        if (j === i || this.mesh[i]!.includes(j)) j = (i + 1 + k) % size
        if (j === i || this.mesh[i]!.includes(j)) continue
        this.mesh[i]!.push(j)
        this.mesh[j]!.push(i)
      }
    }
  }

  /** Starts node `i`'s gossip heartbeat (IHAVE), at a random phase. */
  start (i: number): void {
    const beat = (): void => {
      this.net.run(i, () => {
        this.keepMesh(i)
        this.ihave(i)
      })
      this.clock.after(HEARTBEAT_MS, beat)
    }
    this.clock.after(this.random() * HEARTBEAT_MS, beat)
  }

  /** `author` publishes `bytes` bytes; `deliver(to)` is what a first receipt does at node `to`. */
  publish (author: number, bytes: number, deliver: (to: number) => void): void {
    const msg: Published = { id: this.nextId++, at: this.clock.now, bytes: bytes + ENVELOPE_BYTES, author, has: new Uint8Array(this.size), deliver }
    msg.has[author] = 1
    this.recent.push(msg)
    this.forward(author, msg, -1)
  }

  private forward (from: number, msg: Published, source: number): void {
    for (const to of this.mesh[from]!) {
      if (to === source || to === msg.author || !this.net.reachable(from, to)) continue
      this.net.send(from, to, 'gossipsub', msg.bytes, () => { this.receive(to, msg, from) })
    }
  }

  private receive (at: number, msg: Published, from: number): void {
    if (msg.has[at] === 1) return
    msg.has[at] = 1
    msg.deliver(at)
    this.forward(at, msg, from)
  }

  /** gossipsub's mesh upkeep at a heartbeat: peers hung up on leave; below Dlo, graft up to D; above Dhi, prune to D. */
  private keepMesh (i: number): void {
    const mesh = this.mesh[i]!
    for (const j of [...mesh]) if (this.gone(i, j)) this.unlink(i, j)
    if (mesh.length < MESH_LOW) {
      for (let tries = 0; mesh.length < MESH_D && tries < 4 * MESH_D; tries++) {
        const j = Math.floor(this.random() * this.size)
        if (j === i || mesh.includes(j) || this.mesh[j]!.length >= MESH_HIGH || this.gone(i, j) || !this.net.reachable(i, j)) continue
        mesh.push(j)
        this.mesh[j]!.push(i)
      }
    }
    while (mesh.length > MESH_HIGH) this.unlink(i, mesh[Math.floor(this.random() * mesh.length)]!)
  }

  private unlink (a: number, b: number): void {
    this.mesh[a]!.splice(this.mesh[a]!.indexOf(b), 1)
    this.mesh[b]!.splice(this.mesh[b]!.indexOf(a), 1)
  }

  private ihave (i: number): void {
    const now = this.clock.now
    if (this.recent.length > 0 && now - this.recent[0]!.at > SEEN_TTL_MS) this.recent = this.recent.filter(m => now - m.at <= SEEN_TTL_MS)
    const mine: Published[] = []
    for (let k = this.recent.length - 1; k >= 0 && now - this.recent[k]!.at <= HISTORY_MS; k--) if (this.recent[k]!.has[i] === 1) mine.push(this.recent[k]!)
    if (mine.length === 0) return
    for (let k = 0; k < GOSSIP_PEERS; k++) {
      const peer = Math.floor(this.random() * this.size)
      if (peer === i || !this.net.reachable(i, peer)) continue
      this.net.send(i, peer, 'ihave', 16 + ID_BYTES * mine.length, () => {
        const missing = mine.filter(m => m.has[peer] !== 1)
        if (missing.length === 0) return
        this.net.send(peer, i, 'iwant', 16 + ID_BYTES * missing.length, () => {
          for (const m of missing) this.net.send(i, peer, 'gossipsub', m.bytes, () => { this.receive(peer, m, i) })
        })
      })
    }
  }
}
