import type { PeerId } from '@libp2p/interface'
import type { Membership } from './membership/membership.ts'
import type { Member } from './membership/member.ts'
import { MEMBER_EVENT_TYPES } from './membership/events.ts'
import type { GridNodeEvents, PeerEvent } from './node-events.ts'
import type { GridLibp2p } from './transport/libp2p.ts'
import type { Service } from './lifecycle/service.ts'
import type { CrlStore } from './trust/crl-store.ts'
import type { VerifiedCrl } from './trust/crl-parse.ts'

type Notify = <E extends keyof GridNodeEvents>(event: E, ...args: GridNodeEvents[E]) => void

/** The node's part that relays libp2p's peer events, membership's member events and the CRL store's updates as the node's own events. */
export function nodeEventRelay (libp2p: GridLibp2p, membership: Membership, crls: Pick<CrlStore, 'on' | 'off'>, notify: Notify, nameOf: (peer: string) => string | undefined): Service {
  const relays = MEMBER_EVENT_TYPES.map(type => [type, (member: Member) => { notify(type, member) }] as const)
  const peerEvent = (evt: CustomEvent<PeerId>): PeerEvent => {
    const id = evt.detail.toString()
    const name = nameOf(id)
    return name == null ? { id } : { id, name }
  }
  const onConnect = (evt: CustomEvent<PeerId>): void => { notify('peer:connect', peerEvent(evt)) }
  const onDisconnect = (evt: CustomEvent<PeerId>): void => { notify('peer:disconnect', peerEvent(evt)) }
  const onCrl = (crl: VerifiedCrl): void => { notify('crl:update', { number: crl.number, revoked: crl.entries.map(e => e.serial) }) }
  const unlisten = (): void => {
    crls.off('update', onCrl)
    libp2p.removeEventListener('peer:connect', onConnect)
    libp2p.removeEventListener('peer:disconnect', onDisconnect)
    for (const [type, relay] of relays) membership.off(type, relay)
  }
  return {
    name: 'node events',
    start: () => {
      libp2p.addEventListener('peer:connect', onConnect)
      libp2p.addEventListener('peer:disconnect', onDisconnect)
      crls.on('update', onCrl)
      for (const [type, relay] of relays) membership.on(type, relay)
    },
    stop: unlisten,
    destroy: unlisten
  }
}
